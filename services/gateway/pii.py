"""The key's PII policy applied to chat messages and embedding inputs (harness.pii).

A message's content may be a list of parts (OpenAI's shape): the policy reads string
contents and the text of ``text`` and ``refusal`` parts; images, audio and files pass
as they are; a part of another type is refused unless the policy is ``off``
(:func:`check_messages`), so no text reaches a provider unread."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class PIIUnavailable(Exception):
    pass


def _pii():
    try:
        from harness import pii
    except ImportError as exc:  # the package is optional at import time
        raise PIIUnavailable(str(exc)) from exc
    return pii


TEXT_PARTS: dict[str, str] = {"text": "text", "refusal": "refusal"}
"""Content part types the policy reads, and the field holding their text."""
MEDIA_PARTS: frozenset[str] = frozenset({"image_url", "input_audio", "file"})
"""Content part types passed through as they are (images, audio and files are not read:
their text, if any, is not masked)."""


class PartRefused(ValueError):
    """A message or content part the gateway will not send; ``field`` is its path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def check_messages(messages: list[Any], policy: str) -> None:
    """Refuse what the policy could not read: a message that is not an object, a content
    that is neither a text nor a list of parts, a text or refusal part without its text as
    a string, a media part without its object, and, unless the policy is ``off``, a part
    of a type the gateway does not know (its text would reach the provider unmasked)."""
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise PartRefused(f"messages.{i}", "a message must be an object")
        _check_calls(i, m)
        content = m.get("content")
        if content is not None and not isinstance(content, str | list):
            raise PartRefused(f"messages.{i}.content", "a text or a list of content parts")
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            where = f"messages.{i}.content.{j}"
            kind = part.get("type") if isinstance(part, dict) else None
            if not isinstance(part, dict) or not isinstance(kind, str):
                raise PartRefused(where, "a content part must be an object with a 'type'")
            if kind in TEXT_PARTS:
                name = TEXT_PARTS[kind]
                if not isinstance(part.get(name), str):
                    raise PartRefused(f"{where}.{name}", f"a {kind} part needs {name!r} "
                                                         "(a string)")
            elif kind in MEDIA_PARTS:
                if not isinstance(part.get(kind), dict):
                    raise PartRefused(f"{where}.{kind}", f"a {kind} part needs {kind!r} "
                                                         "(an object)")
            elif policy != "off":
                raise PartRefused(f"{where}.type", f"unknown content part type {kind!r}: "
                                  f"under the PII policy {policy!r} the gateway sends only "
                                  "parts it reads or passes knowingly ("
                                  + ", ".join([*TEXT_PARTS, *sorted(MEDIA_PARTS)]) + ")")


def _check_calls(i: int, m: dict) -> None:
    """A message's ``name``, ``tool_calls`` and ``function_call`` in the shape the policy
    reads (anything else would reach the provider unread)."""
    at = f"messages.{i}"
    if m.get("name") is not None and not isinstance(m["name"], str):
        raise PartRefused(f"{at}.name", "a message's name must be a string")
    calls = m.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise PartRefused(f"{at}.tool_calls", "a list of tool calls")
        for j, call in enumerate(calls):
            if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
                raise PartRefused(f"{at}.tool_calls.{j}",
                                  "a tool call must be an object with a 'function' object")
    fc = m.get("function_call")
    if fc is not None and not isinstance(fc, dict):
        raise PartRefused(f"{at}.function_call", "a function call must be an object")


# ---------------------------------------------------------------------- what the policy reads
SCHEMA_TEXT_KEYS: frozenset[str] = frozenset({"description", "title", "default", "examples"})
"""Keys of a tool's JSON schema whose strings are free text the policy reads (at any depth
of ``parameters``): names, types and ``enum`` values are the contract and pass as they are."""


@dataclass
class _Slot:
    """One text the policy reads: where it is (for a ``block`` refusal) and how to put the
    masked text back."""

    where: str
    text: str
    put: Callable[[str], None]


@dataclass
class _Reader:
    """Collects the texts of a request in deep copies of its parts, then writes the masked
    texts back (re-serialising JSON arguments whose strings changed)."""

    slots: list[_Slot] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)

    def text(self, where: str, holder: dict | list, key: Any) -> None:
        value = holder[key]
        if isinstance(value, str) and value:
            def put(t: str, holder=holder, key=key) -> None:
                holder[key] = t
            self.slots.append(_Slot(where, value, put))

    def strings(self, where: str, holder: dict | list, key: Any) -> None:
        """Every string inside ``holder[key]`` (a JSON value; object keys are not read)."""
        value = holder[key]
        if isinstance(value, str):
            self.text(where, holder, key)
        elif isinstance(value, dict):
            for k in value:
                self.strings(f"{where}.{k}", value, k)
        elif isinstance(value, list):
            for i in range(len(value)):
                self.strings(f"{where}.{i}", value, i)

    def arguments(self, where: str, fn: dict) -> None:
        """A function call's ``arguments``: the strings inside the JSON it holds, written
        back as JSON when one changed (so it stays valid JSON); a text that is not JSON is
        read whole; an object or list (not OpenAI's shape) is read like JSON."""
        raw = fn.get("arguments")
        if not isinstance(raw, str):
            if isinstance(raw, dict | list):
                self.strings(where, fn, "arguments")
            return
        try:
            parsed = json.loads(raw)
        except ValueError:
            self.text(where, fn, "arguments")
            return
        if isinstance(parsed, str):
            self.text(where, fn, "arguments")  # a JSON string: its quotes survive masking
            return
        box = {"v": parsed}
        before = len(self.slots)
        self.strings(where, box, "v")
        if len(self.slots) == before:
            return
        changed = [False]
        for s in self.slots[before:]:
            def put(t: str, inner=s.put) -> None:
                changed[0] = True
                inner(t)
            s.put = put

        def write() -> None:
            if changed[0]:
                fn["arguments"] = json.dumps(box["v"], ensure_ascii=False)
        self.after.append(write)

    def message(self, i: int, m: dict) -> None:
        at = f"messages.{i}"
        c = m.get("content")
        if isinstance(c, str):
            self.text(f"{at}.content", m, "content")
        elif isinstance(c, list):
            for j, part in enumerate(c):
                name = TEXT_PARTS.get(part.get("type")) if isinstance(part, dict) else None
                if name is not None:
                    self.text(f"{at}.content.{j}.{name}", part, name)
        for key in ("name", "refusal"):
            if key in m:
                self.text(f"{at}.{key}", m, key)
        calls = m.get("tool_calls")
        if isinstance(calls, list):
            for j, call in enumerate(calls):
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict):
                    self.arguments(f"{at}.tool_calls.{j}.function.arguments", fn)
        fc = m.get("function_call")
        if isinstance(fc, dict):
            self.arguments(f"{at}.function_call.arguments", fc)

    def schema(self, where: str, node: Any) -> None:
        """The free text of a JSON schema: ``description``, ``title``, ``default`` and
        ``examples`` at any depth (a property named ``description`` is a name, not text)."""
        if isinstance(node, dict):
            for k, v in node.items():
                if k in SCHEMA_TEXT_KEYS:
                    self.strings(f"{where}.{k}", node, k)
                elif k in ("properties", "$defs", "definitions", "patternProperties"):
                    if isinstance(v, dict):
                        for name, sub in v.items():
                            self.schema(f"{where}.{k}.{name}", sub)
                else:
                    self.schema(f"{where}.{k}", v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                self.schema(f"{where}.{i}", v)

    def function(self, where: str, fn: Any) -> None:
        if isinstance(fn, dict):
            if "description" in fn:
                self.text(f"{where}.description", fn, "description")
            if "parameters" in fn:
                self.schema(f"{where}.parameters", fn["parameters"])

    def tools(self, params: dict) -> None:
        tools = params.get("tools")
        if isinstance(tools, list):
            for i, t in enumerate(tools):
                if isinstance(t, dict):
                    self.function(f"tools.{i}.function", t.get("function"))
        functions = params.get("functions")
        if isinstance(functions, list):
            for i, fn in enumerate(functions):
                self.function(f"functions.{i}", fn)
        fmt = params.get("response_format")
        spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
        if isinstance(spec, dict):  # a structured output's schema: free text like a tool's
            if "description" in spec:
                self.text("response_format.json_schema.description", spec, "description")
            if "schema" in spec:
                self.schema("response_format.json_schema.schema", spec["schema"])

    def finish(self, texts: list[str]) -> None:
        for s, t in zip(self.slots, texts, strict=True):
            if t != s.text:
                s.put(t)
        for write in self.after:
            write()


def apply_to_request(messages: list[dict[str, Any]], params: dict[str, Any], policy: str
                     ) -> tuple[list[dict[str, Any]], dict[str, Any], str, dict[str, int]]:
    """Masked copies of a chat request's ``messages`` and ``params``, the action
    ("none" | "passed" | "masked") and the counts per kind.

    Read: string contents and text/refusal parts (of every role, ``tool`` results
    included), message ``name`` and ``refusal``, assistant ``tool_calls[].function.
    arguments`` and legacy ``function_call.arguments`` (the strings inside their JSON,
    re-serialised so the arguments stay valid JSON; a text that is not JSON is masked
    whole), and the request's ``tools[].function`` / ``functions[]`` descriptions and
    their parameters' ``description``, ``title``, ``default`` and ``examples`` (and the
    same in a ``response_format``'s ``json_schema``). Under
    ``block`` raises ``harness.pii.PIIBlocked`` naming the kinds and where they are."""
    if policy == "off":
        return messages, params, "none", {}
    pii = _pii()
    out = copy.deepcopy(messages)
    out_params = dict(params)
    for k in ("tools", "functions", "response_format"):
        if k in out_params:
            out_params[k] = copy.deepcopy(out_params[k])
    reader = _Reader()
    for i, m in enumerate(out):
        if isinstance(m, dict):
            reader.message(i, m)
    reader.tools(out_params)
    if policy == "block":
        _refuse_found(pii, reader.slots)
        return messages, params, "passed", {}
    results = pii.apply_policy_many([s.text for s in reader.slots], policy)
    counts: dict[str, int] = {}
    for r in results:
        for k, n in r.counts.items():
            counts[k] = counts.get(k, 0) + n
    if not counts:
        return messages, params, "passed", {}
    reader.finish([r.text for r in results])
    return out, out_params, "masked", counts


def _refuse_found(pii: Any, slots: list[_Slot]) -> None:
    found = []
    places: list[str] = []
    for s in slots:
        hits = pii.detect(s.text)
        if hits:
            found.extend(hits)
            places.append(s.where)
    if found:
        counts = pii.count_kinds(found)
        where = ", ".join(places[:5]) + (f" (and {len(places) - 5} more)"
                                         if len(places) > 5 else "")
        raise pii.PIIBlocked(list(counts), counts, where=where)


def apply_to_messages(messages: list[dict[str, Any]], policy: str
                      ) -> tuple[list[dict[str, Any]], str, dict[str, int]]:
    """:func:`apply_to_request` without tools."""
    out, _, action, counts = apply_to_request(messages, {}, policy)
    return out, action, counts


def apply_to_texts(texts: list[str], policy: str) -> tuple[list[str], str, dict[str, int]]:
    if policy == "off":
        return texts, "none", {}
    pii = _pii()
    results = pii.apply_policy_many(texts, policy, where="input")
    counts: dict[str, int] = {}
    for r in results:
        for k, n in r.counts.items():
            counts[k] = counts.get(k, 0) + n
    return [r.text for r in results], ("masked" if counts else "passed"), counts


def mask_for_storage(text: str | None, policy: str) -> str | None:
    """What is stored of a response: masked unless the key's policy is ``off``."""
    if text is None or policy == "off":
        return text
    return _pii().mask(text).text


def mask_value_for_storage(value: Any, policy: str) -> Any:
    """``value`` (JSON: strings inside lists and objects) as stored: every string masked
    unless the key's policy is ``off``."""
    if policy == "off":
        return value
    mask = _pii().mask

    def scrub(v: Any) -> Any:
        if isinstance(v, str):
            return mask(v).text
        if isinstance(v, list):
            return [scrub(x) for x in v]
        if isinstance(v, dict):
            return {k: scrub(x) for k, x in v.items()}
        return v

    return scrub(value)


def mask_calls_for_storage(calls: list[Any] | None, policy: str) -> list[Any] | None:
    """An answer's ``tool_calls`` as stored: the strings inside each call's JSON
    ``arguments`` masked (the arguments stay valid JSON) unless the policy is ``off``."""
    if not calls or policy == "off":
        return calls
    mask = _pii().mask
    holder = {"tool_calls": copy.deepcopy(calls)}
    reader = _Reader()
    reader.message(0, holder)
    reader.finish([mask(s.text).text for s in reader.slots])
    return holder["tool_calls"]
