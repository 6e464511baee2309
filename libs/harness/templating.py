"""Prompt templates: Jinja2 with Nunjucks-compatible plain variables.

A prompt's content is either a text template or a list of chat messages
(``{"role": ..., "content": ...}``) whose contents are templates.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

Content = str | list[dict[str, Any]]

_env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


class TemplateSyntaxError(ValueError):
    """The template cannot be parsed; ``where`` says which message and line."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class MissingVariablesError(ValueError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__("missing variables: " + ", ".join(missing))
        self.missing = missing


def _texts(content: Content) -> list[tuple[str, str]]:
    if isinstance(content, str):
        return [("content", content)]
    return [(f"messages[{i}].content", str(m.get("content", ""))) for i, m in enumerate(content)]


@lru_cache(maxsize=4096)
def _compile(text: str) -> jinja2.Template:
    return _env.from_string(text)


@lru_cache(maxsize=4096)
def _variables_of_text(text: str) -> tuple[str, ...]:
    ast = _env.parse(text)
    return tuple(sorted(meta.find_undeclared_variables(ast)))


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


def validate(content: Content) -> None:
    """Raise ``TemplateSyntaxError`` or ``ValueError`` if the content is not a usable prompt."""
    if isinstance(content, list):
        if not content:
            raise ValueError("messages must not be empty")
        for i, m in enumerate(content):
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise ValueError(f"messages[{i}] needs 'role' and 'content'")
            if m["role"] not in ("system", "user", "assistant", "tool", "developer"):
                raise ValueError(f"messages[{i}].role {m['role']!r} is not a chat role")
    variables(content)


def render_text(text: str, bindings: dict[str, Any]) -> str:
    return _compile(text).render(**bindings)


def render(content: Content, bindings: dict[str, Any]) -> Content:
    """Render every template in ``content``; missing variables raise ``MissingVariablesError``."""
    missing = [v for v in variables(content) if v not in bindings]
    if missing:
        raise MissingVariablesError(missing)
    if isinstance(content, str):
        return render_text(content, bindings)
    return [{**m, "content": render_text(str(m["content"]), bindings)} for m in content]


def to_messages(rendered: Content) -> list[dict[str, Any]]:
    """Chat messages for a model call: a text prompt becomes one user message."""
    if isinstance(rendered, str):
        return [{"role": "user", "content": rendered}]
    return [dict(m) for m in rendered]


def as_text(content: Content) -> str:
    """A readable text form for diffs: chat messages become ``[role]`` blocks."""
    if isinstance(content, str):
        return content
    return "\n\n".join(f"[{m.get('role')}]\n{m.get('content', '')}" for m in content) + "\n"


def as_prompt_text(content: Content) -> str:
    """The prompt as one string, as promptfoo passes it to providers (chat = JSON)."""
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)
