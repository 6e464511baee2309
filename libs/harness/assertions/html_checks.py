"""is-html and contains-html with promptfoo 0.123.1's rules.

``contains-html`` scores HTML indicators in the text (tags, entities, a doctype, comments,
attributes, common element names) and needs two. ``is-html`` parses the whole output with
a WHATWG-spec HTML parser (html5lib here, parse5 in promptfoo: both build the tree the
HTML standard prescribes) and requires a recognised HTML element the user wrote (html /
head / body count only when written literally), refuses XML (``<?xml``), and refuses text
sitting directly in an implied ``<body>`` (e.g. ``Hello <b>x</b>``)."""

from __future__ import annotations

import re
from typing import Any

from .models import Assertion, AssertionContext, Verdict, binary

MAX_INPUT_SIZE = 10 * 1024 * 1024

VALID_HTML_ELEMENTS = frozenset({
    "html", "head", "title", "base", "link", "meta", "style", "body", "article", "section",
    "nav", "aside", "h1", "h2", "h3", "h4", "h5", "h6", "header", "footer", "address", "p",
    "hr", "pre", "blockquote", "ol", "ul", "li", "dl", "dt", "dd", "figure", "figcaption",
    "main", "div", "a", "em", "strong", "small", "s", "cite", "q", "dfn", "abbr", "ruby", "rt",
    "rp", "data", "time", "code", "var", "samp", "kbd", "sub", "sup", "i", "b", "u", "mark",
    "bdi", "bdo", "span", "br", "wbr", "img", "iframe", "embed", "object", "param", "picture",
    "source", "video", "audio", "track", "map", "area", "svg", "math", "script", "noscript",
    "canvas", "ins", "del", "table", "caption", "colgroup", "col", "tbody", "thead", "tfoot",
    "tr", "td", "th", "form", "label", "input", "button", "select", "datalist", "optgroup",
    "option", "textarea", "output", "progress", "meter", "fieldset", "legend", "details",
    "summary", "dialog", "menu", "slot", "template",
})
_WRAPPERS = {name: re.compile(rf"<{name}(?=[\s>/])") for name in ("html", "head", "body")}

_OPENING = re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s[^>]*)?>")
_CLOSING = re.compile(r"</[a-zA-Z][a-zA-Z0-9-]*\s*>")
_SELF_CLOSING = re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*(?:\s[^>]*)?/>")
_ENTITY = re.compile(r"&(?:[a-zA-Z]+|#[0-9]+|#x[0-9a-fA-F]+);")
_DOCTYPE = re.compile(r"<!DOCTYPE\s+html", re.IGNORECASE)
_COMMENT = re.compile(r"<!--[^-]*(?:-[^-]+)*-->")
_ATTRIBUTE = re.compile(r"\s[a-zA-Z-]+=\s*[\"'][^\"']*[\"']")
_COMMON = re.compile(r"<(html|head|body|div|span|p|a|img|h[1-6]|ul|ol|li|table|tr|td|th|form|"
                     r"input|button|script|style|link|meta|br|hr)\b", re.IGNORECASE)


def contains_html(text: str) -> bool:
    if len(text) > MAX_INPUT_SIZE:
        return False
    score = 0
    opening, closing = bool(_OPENING.search(text)), bool(_CLOSING.search(text))
    score += 2 if opening and closing else (1 if opening or closing else 0)
    score += 1 if _SELF_CLOSING.search(text) else 0
    score += 1 if _ENTITY.search(text) else 0
    score += 2 if _DOCTYPE.search(text) else 0
    score += 1 if _COMMENT.search(text) else 0
    score += 1 if _ATTRIBUTE.search(text) else 0
    score += 2 if _COMMON.search(text) else 0
    return score >= 2


def _local(tag: Any) -> str | None:
    if not isinstance(tag, str):  # comments and processing instructions
        return None
    return tag.rsplit("}", 1)[-1]


def _elements(root: Any) -> list[Any]:
    """Elements in document order (depth first, pre-order), as promptfoo walks them."""
    out = []
    stack = [root]
    while stack:
        node = stack.pop()
        if _local(node.tag) is not None:
            out.append(node)
        stack.extend(reversed(list(node)))
    return out


def _has_text(body: Any) -> bool:
    if body.text and body.text.strip():
        return True
    return any(child.tail and child.tail.strip() for child in body)


def validate_html(text: str) -> tuple[bool, str]:
    import html5lib

    trimmed = text.strip()
    if not trimmed:
        return False, "Output is empty"
    if len(trimmed) > MAX_INPUT_SIZE:
        return False, "Output exceeds maximum size limit"
    if re.match(r"^\s*<\?xml", trimmed, re.IGNORECASE):
        return False, "Output appears to be XML, not HTML"
    document = html5lib.parse(trimmed, treebuilder="etree", namespaceHTMLElements=True)
    lowered = trimmed.lower()
    elements = _elements(document)
    body = next((e for e in elements if _local(e.tag) == "body"), None)
    literal_body = bool(_WRAPPERS["body"].search(lowered))
    if body is not None and not literal_body and _has_text(body):
        return False, "Output must be wrapped in HTML tags"

    def user_written(element: Any) -> bool:
        name = _local(element.tag).lower()
        if name in _WRAPPERS:
            return bool(_WRAPPERS[name].search(lowered))
        return name in VALID_HTML_ELEMENTS or "-" in name

    if not any(user_written(e) for e in elements):
        return False, "Output does not contain recognized HTML elements"
    return True, "Output is valid HTML"


def check_contains_html(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    passed = contains_html(output) != a.inverse
    return binary(passed, "Assertion passed" if passed else
                  f"Expected output to {'not ' if a.inverse else ''}contain HTML content")


def check_is_html(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    valid, reason = validate_html(output)
    passed = valid != a.inverse
    return binary(passed, "Assertion passed" if passed else reason)
