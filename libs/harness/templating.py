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
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes

from harness import content_parts
from harness.template_sandbox import BudgetedSandbox, RenderBudget, RenderBudgetExceeded, metered

__all__ = [
    "Content",
    "MissingVariablesError",
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


# Composition tags would load other templates by name: no loader defines names yet, so a
# template using them can never render; refuse it when it is stored.
_COMPOSITION = {nodes.Include: "include", nodes.Import: "import",
                nodes.FromImport: "import", nodes.Extends: "extends"}


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
    ast = _env.parse(text)
    return tuple(sorted(meta.find_undeclared_variables(ast)))


def _refuse_composition(content: Content) -> None:
    for where, text in _texts(content):
        ast = _env.parse(text)
        for kind, tag in _COMPOSITION.items():
            node = ast.find(kind)
            if node is not None:
                raise TemplateSyntaxError(
                    f"{{% {tag} %}} is not supported: prompts cannot load other templates",
                    f"{where} line {node.lineno}")


def variables(content: Content) -> list[str]:
    """Names of the ``{{ var }}`` placeholders, sorted, without duplicates."""
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
    ``MissingVariablesError``, an exhausted budget ``RenderBudgetExceeded``."""
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
