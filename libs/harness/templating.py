"""Prompt templates: Jinja2 with Nunjucks-compatible plain variables.

A prompt's content is either a text template or a list of chat messages
(``{"role": ..., "content": ...}``) whose contents are templates, or lists of parts
(text, image_url, input_audio, file; :mod:`harness.content_parts`) whose text parts and
image URLs are templates.

Every render runs in a sandbox under a budget (``harness.template_sandbox``: steps, time,
output size; ``HARNESS_RENDER_*``); exceeding it raises :class:`RenderBudgetExceeded`.
Async code renders with :func:`render_async`, which keeps the work off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes

from harness import content_parts
from harness.template_sandbox import BudgetedSandbox, RenderBudget, RenderBudgetExceeded, metered

__all__ = [
    "Content",
    "MissingVariablesError",
    "REFERENCE_SYNTAX",
    "Reference",
    "RenderBudget",
    "RenderBudgetExceeded",
    "TemplateRenderError",
    "TemplateSyntaxError",
    "render",
    "render_async",
    "render_budget",
    "render_text",
]

Content = str | list[dict[str, Any]]

_env = BudgetedSandbox(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render_budget() -> RenderBudget:
    """The configured budget of one render (``HARNESS_RENDER_MAX_CHARS``,
    ``HARNESS_RENDER_MAX_STEPS``, ``HARNESS_RENDER_TIMEOUT_S``)."""
    from harness.config import get_settings

    s = get_settings()
    return RenderBudget(max_chars=s.render_max_chars, max_steps=s.render_max_steps,
                        timeout_s=s.render_timeout_s)


class TemplateSyntaxError(ValueError):
    """The template cannot be parsed; ``where`` says which message and line."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class TemplateRenderError(ValueError):
    """The template failed while rendering (the sandbox refused an operation, a division by
    zero, an attribute the value does not have, ...): the caller's input or the template
    is wrong, not the server."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


# Jinja's composition tags would load other templates through a loader: prompts have
# none (a prompt reaches another through a reference, below), so a template using them
# could never render; refuse it when it is stored, pointing to the reference syntax.
_COMPOSITION = {nodes.Include: "include", nodes.Import: "import",
                nodes.FromImport: "import", nodes.Extends: "extends"}

REFERENCE_SYNTAX = '{{ prompt("name@environment") }}'
"""How a prompt references another: ``{{ prompt("support-tone@production") }}`` (an
environment), ``{{ prompt("support-tone@3") }}`` (a version) or ``{{ prompt("support-tone") }}``
(production, the active version). The registry replaces the tag with the referenced
version's text before anything renders (:func:`expand`). The tag is a plain function call
in both Jinja and Nunjucks, so it is never a syntax error; rendered without the registry it
fails loudly (``prompt`` is undefined), never silently."""

REFERENCE_FUNCTION = "prompt"
_REFERENCE_TAG = re.compile(
    r"""\{\{(?P<lead>-?)\s*prompt\s*\(\s*(?:"(?P<dq>[^"\\\n]*)"|'(?P<sq>[^'\\\n]*)')"""
    r"""\s*\)\s*(?P<trail>-?)\}\}""")
_REFERENCE_ENV = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Reference:
    """One ``{{ prompt("name@label") }}`` of a template: ``version`` when the label is a
    number, else ``environment`` (``production`` when there is no label)."""

    ref: str
    name: str
    environment: str | None
    version: int | None
    where: str = "content"


def parse_reference(ref: str, where: str = "content") -> Reference:
    """``name@environment``, ``name@3`` or ``name`` (production); the name is what comes
    before the last ``@``."""
    name, sep, label = ref.rpartition("@")
    if not sep:
        name, label = ref, "production"
    name, label = name.strip(), label.strip()
    if not name:
        raise TemplateSyntaxError(f"prompt({ref!r}): the referenced prompt's name is missing "
                                  f"(write {REFERENCE_SYNTAX})", where)
    if label.isdigit():
        number = int(label)
        if not 1 <= number <= _INT32_MAX:
            raise TemplateSyntaxError(f"prompt({ref!r}): version {label} does not exist "
                                      "(versions start at 1)", where)
        return Reference(ref, name, None, number, where)
    if not _REFERENCE_ENV.match(label):
        raise TemplateSyntaxError(
            f"prompt({ref!r}): {label!r} is neither a version number nor an environment "
            "(lower-case letters, digits, - and _)", where)
    return Reference(ref, name, label, None, where)


def _matches(text: str) -> list[re.Match[str]]:
    if REFERENCE_FUNCTION not in text:
        return []
    return list(_REFERENCE_TAG.finditer(text))


def _ref_text(m: re.Match[str]) -> str:
    return m.group("dq") if m.group("dq") is not None else m.group("sq")


def _line(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def _text_references(text: str, where: str) -> list[Reference]:
    if REFERENCE_FUNCTION not in text:
        return []
    matches = _matches(text)
    ast = _env.parse(text)
    calls = [n for n in ast.find_all(nodes.Call)
             if isinstance(n.node, nodes.Name) and n.node.name == REFERENCE_FUNCTION]
    if not calls and not matches:
        return []
    for call in calls:
        if (len(call.args) != 1 or call.kwargs or call.dyn_args or call.dyn_kwargs
                or not isinstance(call.args[0], nodes.Const)
                or not isinstance(call.args[0].value, str)):
            raise TemplateSyntaxError(
                "a reference takes one quoted name: " + REFERENCE_SYNTAX,
                f"{where} line {call.lineno}")
    if calls and REFERENCE_FUNCTION not in meta.find_undeclared_variables(ast):
        raise TemplateSyntaxError(
            f"the template defines its own {REFERENCE_FUNCTION!r}: the name is reserved for "
            f"references ({REFERENCE_SYNTAX})", f"{where} line {calls[0].lineno}")
    if Counter(_ref_text(m) for m in matches) != Counter(c.args[0].value for c in calls):
        line = calls[0].lineno if calls else _line(text, matches[0].start())
        raise TemplateSyntaxError(
            f"a reference must stand alone in its own tag, as {REFERENCE_SYNTAX}, outside "
            "comments, raw blocks and other expressions", f"{where} line {line}")
    return [parse_reference(_ref_text(m), f"{where} line {_line(text, m.start())}")
            for m in matches]


class MissingVariablesError(ValueError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__("missing variables: " + ", ".join(missing))
        self.missing = missing


def _texts(content: Content) -> list[tuple[str, str]]:
    """``(where, template)`` of every template in the content (text parts and image URLs
    of a message whose content is a list of parts)."""
    if isinstance(content, str):
        return [("content", content)]
    out: list[tuple[str, str]] = []
    for i, m in enumerate(content):
        c = m.get("content", "")
        if content_parts.is_parts(c):
            out.extend(content_parts.template_slots(c, f"messages[{i}].content"))
        else:
            out.append((f"messages[{i}].content", str(c)))
    return out


@lru_cache(maxsize=4096)
def _compile(text: str) -> jinja2.Template:
    return _env.from_string(text)


@lru_cache(maxsize=4096)
def _variables_of_text(text: str) -> tuple[str, ...]:
    ast = _env.parse(_without_references(text))
    return tuple(sorted(meta.find_undeclared_variables(ast)))


def _refuse_composition(content: Content) -> None:
    for where, text in _texts(content):
        ast = _env.parse(text)
        for kind, tag in _COMPOSITION.items():
            node = ast.find(kind)
            if node is not None:
                raise TemplateSyntaxError(
                    f"{{% {tag} %}} is not supported: a prompt includes another with a "
                    f"reference, {REFERENCE_SYNTAX} (or name@3 for a version)",
                    f"{where} line {node.lineno}")


def references(content: Content) -> list[Reference]:
    """The ``{{ prompt("name@label") }}`` references of ``content``, in order; a
    ``TemplateSyntaxError`` when one is malformed or not a tag of its own."""
    found: list[Reference] = []
    for where, text in _texts(content):
        try:
            refs = _text_references(text, where)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateSyntaxError(exc.message or str(exc),
                                      f"{where} line {exc.lineno}") from exc
        if refs and not (where == "content" or where.endswith((".content", ".text"))):
            raise TemplateSyntaxError(
                "a reference is expanded into text: put it in a text prompt, a message's "
                "content or a text part, not in an image URL, audio or file", where)
        found += refs
    return found


def has_references(content: Content) -> bool:
    return any(_matches(text) for _where, text in _texts(content))


def _map_texts(content: Content, fn: Callable[[str, str], str]) -> Content:
    if isinstance(content, str):
        return fn(content, "content")
    out = []
    for i, m in enumerate(content):
        c = m.get("content")
        if isinstance(c, str):
            m = {**m, "content": fn(c, f"messages[{i}].content")}
        elif isinstance(c, list):
            m = {**m, "content": [
                {**part, "text": fn(part["text"], f"messages[{i}].content[{j}].text")}
                if isinstance(part, dict) and isinstance(part.get("text"), str) else part
                for j, part in enumerate(c)]}
        out.append(m)
    return out


def expand(content: Content, text_of: Callable[[Reference], str]) -> Content:
    """``content`` with each reference replaced by ``text_of(reference)`` (the referenced
    version's text, itself expanded), keeping the tag's whitespace control (``{{-``,
    ``-}}``)."""

    def one(text: str, where: str) -> str:
        def replace(m: re.Match[str]) -> str:
            body = text_of(parse_reference(_ref_text(m), f"{where} line {_line(text, m.start())}"))
            return (("{{- '' }}" if m.group("lead") else "") + body
                    + ("{{ '' -}}" if m.group("trail") else ""))

        return _REFERENCE_TAG.sub(replace, text) if REFERENCE_FUNCTION in text else text

    return _map_texts(content, one)


def _without_references(text: str) -> str:
    return _REFERENCE_TAG.sub("", text) if REFERENCE_FUNCTION in text else text


def variables(content: Content) -> list[str]:
    """Names of the ``{{ var }}`` placeholders, sorted, without duplicates (a reference's
    ``prompt`` is not one: the referenced text's variables count once it is expanded)."""
    names: set[str] = set()
    for where, text in _texts(content):
        try:
            names.update(_variables_of_text(text))
        except jinja2.TemplateSyntaxError as exc:
            where = f"{where} line {exc.lineno}"
            raise TemplateSyntaxError(exc.message or str(exc), where) from exc
    return sorted(names)


def validate_messages(messages: list[dict[str, Any]]) -> None:
    """Raise ``ValueError`` unless ``messages`` is a non-empty list of chat messages, each
    with a text or a list of parts (``content_parts.PartError`` names a malformed part)."""
    if not messages:
        raise ValueError("messages must not be empty")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ValueError(f"messages[{i}] needs 'role' and 'content'")
        if m["role"] not in ("system", "user", "assistant", "tool", "developer"):
            raise ValueError(f"messages[{i}].role {m['role']!r} is not a chat role")
        if not isinstance(m["content"], str):
            content_parts.check_parts(m["content"], f"messages[{i}].content", m["role"])


def validate(content: Content) -> None:
    """Raise ``TemplateSyntaxError`` or ``ValueError`` if the content is not a usable prompt."""
    if isinstance(content, list):
        validate_messages(content)
    variables(content)
    _refuse_composition(content)
    references(content)


def render_text(text: str, bindings: dict[str, Any]) -> str:
    """Render one template under the render budget (or the enclosing render's)."""
    with metered(render_budget()):
        try:
            return _compile(text).render(**bindings)
        except RecursionError as exc:  # a macro calling itself without end
            raise RenderBudgetExceeded(
                "depth", "template rendering recursed too deeply (a macro calling itself?)"
            ) from exc


def _render_prompt_text(text: str, bindings: dict[str, Any], where: str) -> str:
    """Any failure while rendering a prompt is a ``TemplateRenderError`` naming where
    (an exhausted budget stays a ``RenderBudgetExceeded``)."""
    try:
        return render_text(text, bindings)
    except RenderBudgetExceeded:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the template did, it is input
        message = str(exc) or type(exc).__name__
        raise TemplateRenderError(f"{type(exc).__name__}: {message}", where) from exc


def render(content: Content, bindings: dict[str, Any]) -> Content:
    """Render every template in ``content`` under one budget; missing variables raise
    ``MissingVariablesError``, an exhausted budget ``RenderBudgetExceeded``; content that
    still holds references (not expanded by the registry) a ``TemplateRenderError``."""
    for where, text in _texts(content):
        if _matches(text):
            raise TemplateRenderError(
                f"the prompt references another ({REFERENCE_SYNTAX}): render what the "
                "registry resolved (GET /applications/{id}/resolved, POST "
                "/prompts/{id}/render), which has the references expanded", where)
    missing = [v for v in variables(content) if v not in bindings]
    if missing:
        raise MissingVariablesError(missing)
    with metered(render_budget()):
        if isinstance(content, str):
            return _render_prompt_text(content, bindings, "content")
        return [_render_message(m, f"messages[{i}].content", bindings)
                for i, m in enumerate(content)]


def _render_message(message: dict[str, Any], where: str,
                    bindings: dict[str, Any]) -> dict[str, Any]:
    c = message["content"]
    if content_parts.is_parts(c):
        return {**message, "content": content_parts.render_parts(
            c, where, lambda text, at: _render_prompt_text(text, bindings, at), bindings)}
    return {**message, "content": _render_prompt_text(str(c), bindings, where)}


async def render_async(content: Content, bindings: dict[str, Any]) -> Content:
    """:func:`render` in a worker thread: a slow template (bounded by its budget) never
    holds the event loop, so other requests, health checks included, go on."""
    return await asyncio.to_thread(render, content, bindings)


def content_bytes(content: Content) -> int:
    """UTF-8 size of a prompt's text (of every message's content for chat prompts; every
    string of a list of parts, inline images and audio included)."""
    if isinstance(content, str):
        return content_parts.string_bytes(content)
    return sum(content_parts.string_bytes(m.get("content", "")) for m in content)


def to_messages(rendered: Content) -> list[dict[str, Any]]:
    """Chat messages for a model call: a text prompt becomes one user message."""
    if isinstance(rendered, str):
        return [{"role": "user", "content": rendered}]
    return [dict(m) for m in rendered]


def as_text(content: Content) -> str:
    """A readable text form for diffs: chat messages become ``[role]`` blocks, a list of
    parts one line per image, audio or file (inline data by size and hash)."""
    if isinstance(content, str):
        return content
    return "\n\n".join(f"[{m.get('role')}]\n{_message_text(m.get('content', ''))}"
                       for m in content) + "\n"


def _message_text(content: Any) -> str:
    return content_parts.readable(content) if content_parts.is_parts(content) else str(content)


def as_prompt_text(content: Content) -> str:
    """The prompt as one string, as promptfoo passes it to providers (chat = JSON)."""
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)
