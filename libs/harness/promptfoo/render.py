"""Rendering a promptfoo prompt exactly as promptfoo 0.123.1's ``renderPrompt`` does.

In order:

1. one trailing newline is removed from every string var;
2. ``{{ name }}`` placeholders inside var values are replaced by the other vars' values
   (plain text substitution, first placeholder per pass, at most five passes);
3. a prompt that parses as JSON (a chat-message list, an object, even a bare number) has
   every string inside it rendered with the vars and is printed back with
   ``JSON.stringify(value, null, 2)``;
4. otherwise every string var is itself rendered as a template (unless it names a var
   that does not exist), partial tags (``{{`` without ``}}``) are taken literally, and
   the prompt is rendered with those rendered vars.

The vars after steps 1-2 are what assertions see (promptfoo changes them in place).
"""

from __future__ import annotations

import json
import re
from typing import Any

from harness import nunjucks
from harness.nunjucks import js_json, js_string, template_references

_SIMPLE_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_PARTIAL_TAG = re.compile(r"({%[^%]*$|{{[^}]*$|{#[^#]*$)", re.M)
_RAW_OPEN = re.compile(r"{%\s*raw\s*%}")
_RAW_CLOSE = re.compile(r"{%\s*endraw\s*%}")
_IDENTIFIER = re.compile(r"^([A-Za-z_]\w*)")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_js_json(text: str) -> Any:
    """``JSON.parse``: strict JSON, surrounding whitespace allowed."""
    return json.loads(text, parse_constant=_no_constants)


def _js_replace_once(text: str, placeholder: str, replacement: str) -> str:
    """``text.replace(placeholder, replacement)`` with a string pattern: the first
    occurrence, and JavaScript's ``$`` patterns in the replacement."""
    index = text.find(placeholder)
    if index < 0:
        return text
    after = index + len(placeholder)

    def dollar(match: re.Match[str]) -> str:
        token = match.group(0)
        return {"$$": "$", "$&": placeholder, "$`": text[:index],
                "$'": text[after:]}.get(token, token)

    expanded = re.sub(r"\$[$&`']", dollar, replacement)
    return text[:index] + expanded + text[after:]


def resolve_variables(variables: dict[str, Any]) -> dict[str, Any]:
    """promptfoo's ``resolveVariables``: substitute ``{{ name }}`` in var values."""
    for _ in range(5):
        resolved = True
        for key in list(variables):
            value = variables[key]
            if not isinstance(value, str):
                continue
            match = _SIMPLE_PLACEHOLDER.search(value)
            if match is None:
                continue
            name = match.group(1)
            if name in variables and not nunjucks.is_undefined(variables[name]):
                variables[key] = _js_replace_once(value, match.group(0),
                                                  js_string(variables[name]))
                resolved = False
        if resolved:
            break
    return variables


def auto_wrap_raw(text: str) -> str:
    """A template with a partial tag is taken literally (``{% raw %}`` around it)."""
    if _PARTIAL_TAG.search(text) and not (_RAW_OPEN.search(text) and _RAW_CLOSE.search(text)):
        return "{% raw %}" + text + "{% endraw %}"
    return text


def references_undefined(template: str, variables: dict[str, Any]) -> bool:
    for name in template_references(template):
        match = _IDENTIFIER.match(name)
        root = match.group(1) if match else None
        if root and root != "env" and (root not in variables
                                        or nunjucks.is_undefined(variables[root])):
            return True
    return False


def _render_object(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return nunjucks.render(value, variables)
    if isinstance(value, list):
        return [_render_object(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _render_object(v, variables) for k, v in value.items()}
    return value


def prepare_vars(variables: dict[str, Any]) -> dict[str, Any]:
    """Steps 1-2: the vars as promptfoo leaves them for rendering and assertions."""
    out = {k: (v[:-1] if isinstance(v, str) and v.endswith("\n") else v)
           for k, v in variables.items()}
    return resolve_variables(out)


def render_prompt(raw: str, variables: dict[str, Any]) -> str:
    """The prompt text promptfoo sends to the provider. ``variables`` must already be
    :func:`prepare_vars`' output. Raises ``nunjucks.NunjucksError`` when a template
    cannot render (promptfoo then reports the row as an error)."""
    try:
        parsed = parse_js_json(raw)
        rendered = js_json(_render_object(parsed, variables), 2)
        if rendered is not None:
            return rendered
    except (ValueError, nunjucks.NunjucksError):
        pass
    rendered_vars: dict[str, Any] = {}
    for key, value in variables.items():
        if isinstance(value, str) and not references_undefined(value, variables):
            rendered_vars[key] = nunjucks.render(auto_wrap_raw(value), variables)
        else:
            rendered_vars[key] = value
    return nunjucks.render(auto_wrap_raw(raw), rendered_vars)
