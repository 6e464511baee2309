"""The key's PII policy applied to chat messages and embedding inputs (harness.pii).

A message's content may be a list of parts (OpenAI's shape): the policy reads string
contents and the text of ``text`` and ``refusal`` parts; images, audio and files pass
as they are; a part of another type is refused unless the policy is ``off``
(:func:`check_messages`), so no text reaches a provider unread."""

from __future__ import annotations

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


def _texts(messages: list[dict[str, Any]]) -> list[tuple[int, int | None, str]]:
    """(message index, part index or None, text) of every text in the messages: string
    contents and the text of text and refusal parts."""
    out = []
    for i, m in enumerate(messages):
        c = m.get("content")
        if isinstance(c, str):
            out.append((i, None, c))
        elif isinstance(c, list):
            for j, part in enumerate(c):
                name = TEXT_PARTS.get(part.get("type")) if isinstance(part, dict) else None
                if name is not None and isinstance(part.get(name), str):
                    out.append((i, j, part[name]))
    return out


def apply_to_messages(messages: list[dict[str, Any]], policy: str
                      ) -> tuple[list[dict[str, Any]], str, dict[str, int]]:
    """Masked copies of ``messages``, the action ("none" | "passed" | "masked") and the
    counts per kind. Under ``block`` raises ``harness.pii.PIIBlocked``."""
    if policy == "off":
        return messages, "none", {}
    pii = _pii()
    texts = _texts(messages)
    results = pii.apply_policy_many([t for _, _, t in texts], policy, where="messages")
    out = [dict(m) for m in messages]
    counts: dict[str, int] = {}
    for (i, j, _), r in zip(texts, results, strict=True):
        for k, n in r.counts.items():
            counts[k] = counts.get(k, 0) + n
        if not r.changed:
            continue
        if j is None:
            out[i]["content"] = r.text
        else:
            parts = [dict(p) for p in out[i]["content"]]
            parts[j][TEXT_PARTS[parts[j]["type"]]] = r.text
            out[i]["content"] = parts
    return out, ("masked" if counts else "passed"), counts


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
