"""is-xml and contains-xml with promptfoo 0.123.1's rules.

``is-xml``: the whole output must be well-formed, namespace-aware XML (a strict parser:
Python's expat where promptfoo uses saxes; a DOCTYPE with an internal subset is refused,
as promptfoo does), then every required element path must exist.
``contains-xml``: balanced tag runs are found in the text (same scan order as promptfoo:
sibling runs first, then outermost elements) and the first one that holds every required
path passes; these candidates are read leniently, as promptfoo's fast-xml-parser does.

Required elements come from the value: ``"a.b, c"``, a list, or
``{requiredElements: [...]}``; a path walks element names (``root.child``), attribute keys
(``@_id``), ``#text`` and list indexes of repeated elements (``root.item.1``)."""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from typing import Any

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict, binary
from .values import js_string

# -- scanning tags (the same scanner finds contains-xml candidates and builds the tree) --

_NAME_START = re.compile(
    "[:A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
    "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
    "\U00010000-\U000effff]")
_NAME_CHAR = re.compile(
    "[-.0-9\u00b7\u0300-\u036f\u203f-\u2040:A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6"
    "\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f\u2c00-\u2fef"
    "\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff]*")


@dataclass
class Tag:
    kind: str  # opening | closing | declaration
    start: int
    end: int  # index of the closing '>'
    name: str = ""
    self_closing: bool = False


def _read_name(text: str, start: int) -> tuple[str, int] | None:
    if start >= len(text) or not _NAME_START.match(text, start):
        return None
    m = _NAME_CHAR.match(text, start + 1)
    end = m.end() if m else start + 1
    return text[start:end], end


def _closing_gt(text: str, begin: int, *, declaration: bool) -> int:
    """Index of the ``>`` that ends a tag or a ``<!...>`` declaration, from ``begin``;
    quoted text is skipped. A tag is no tag when an unquoted ``<`` comes first (-1 then,
    and when the text ends); a declaration skips its bracketed internal subset and runs to
    the end of the text when unclosed."""
    quote, depth = None, 0
    for i in range(begin, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch == ">" and depth == 0:
            return i
        elif not declaration:
            if ch == "<":
                return -1
        elif ch == "[":
            depth += 1
        elif ch == "]" and depth > 0:
            depth -= 1
    return len(text) - 1 if declaration else -1


def _delimited_end(text: str, start: int, delimiter: str) -> int:
    found = text.find(delimiter, start)
    return found + len(delimiter) - 1 if found != -1 else len(text) - 1


_DELIMITED = (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"))


def _declaration_end(text: str, start: int) -> int:
    for opener, closer in _DELIMITED:
        if text.startswith(opener, start):
            return _delimited_end(text, start + len(opener), closer)
    return _closing_gt(text, start + 2, declaration=True)


def read_tag(text: str, start: int) -> Tag | None:
    nxt = text[start + 1] if start + 1 < len(text) else None
    if nxt is None:
        return None
    if nxt in "!?":
        return Tag("declaration", start, _declaration_end(text, start))
    if nxt == "/":
        name = _read_name(text, start + 2)
        end = _closing_gt(text, start + 1, declaration=False) if name else -1
        return Tag("closing", start, end, name[0]) if name and end != -1 else None
    name = _read_name(text, start + 1)
    if not name:
        return None
    end = _closing_gt(text, start + 1, declaration=False)
    if end == -1:
        return None
    last = end - 1
    while last > start and text[last].isspace():
        last -= 1
    return Tag("opening", start, end, name[0], self_closing=text[last] == "/")


@dataclass
class Candidate:
    start: int
    end: int
    parent: int | None


def _order(candidates: list[Candidate]) -> list[Candidate]:
    ordered: list[Candidate] = []
    seen: set[tuple[int, int]] = set()
    starts = {c.start for c in candidates}

    def add(c: Candidate) -> None:
        if (c.start, c.end) not in seen:
            seen.add((c.start, c.end))
            ordered.append(c)

    by_parent: dict[int | None, list[Candidate]] = {}
    for c in candidates:
        by_parent.setdefault(c.parent, []).append(c)
    for parent, siblings in by_parent.items():
        if len(siblings) <= 1 or (parent is not None and parent in starts):
            continue
        siblings.sort(key=lambda c: (c.start, c.end))
        add(Candidate(siblings[0].start, siblings[-1].end, parent))
    outer = [c for c in candidates if c.parent is None or c.parent not in starts]
    for c in sorted(outer, key=lambda c: (c.start, -c.end)):
        add(c)
    return ordered


def xml_candidates(text: str) -> list[Candidate]:
    stack: list[tuple[str, int]] = []
    found: list[Candidate] = []
    i = 0
    while i < len(text):
        if text[i] != "<":
            i += 1
            continue
        tag = read_tag(text, i)
        if tag is None:
            i += 1
            continue
        if tag.kind == "opening":
            if tag.self_closing:
                found.append(Candidate(tag.start, tag.end + 1,
                                       stack[-1][1] if stack else None))
            else:
                stack.append((tag.name, tag.start))
        elif tag.kind == "closing":
            if stack and stack[-1][0] == tag.name:
                _, start = stack.pop()
                found.append(Candidate(start, tag.end + 1, stack[-1][1] if stack else None))
            else:
                stack.clear()
        i = tag.end + 1
    return _order(found)


# -- the parsed shape promptfoo walks (fast-xml-parser's object) ------------------------

_ATTR = re.compile(r"""([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")


@dataclass
class Node:
    name: str
    attrs: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    text: bool = False


def _attributes(text: str, tag: Tag) -> list[str]:
    inner = text[tag.start + 1 + len(tag.name): tag.end]
    inner = inner.rstrip().removesuffix("/")
    return [m.group(1) for m in _ATTR.finditer(inner)]


def build_tree(text: str) -> Node:
    """A lenient tree of the element names, attributes and text presence."""
    root = Node("")
    stack = [root]
    i, last = 0, 0

    def note_text(chunk: str) -> None:
        if chunk.strip():
            stack[-1].text = True

    while i < len(text):
        if text[i] != "<":
            i += 1
            continue
        tag = read_tag(text, i)
        if tag is None:
            i += 1
            continue
        note_text(text[last:i])
        if tag.kind == "declaration":
            if text.startswith("<?xml", i) and len(stack) == 1:
                root.children.append(Node("?xml"))
            elif text.startswith("<![CDATA[", i):
                note_text(text[i + 9: tag.end - 2])
        elif tag.kind == "opening":
            node = Node(tag.name, _attributes(text, tag))
            stack[-1].children.append(node)
            if not tag.self_closing:
                stack.append(node)
        elif len(stack) > 1:
            for depth in range(len(stack) - 1, 0, -1):
                if stack[depth].name == tag.name:
                    del stack[depth:]
                    break
        i = last = tag.end + 1
    note_text(text[last:])
    return root


def _value_of(node: Node) -> Any:
    """What fast-xml-parser makes of an element: a leaf is a primitive (no deeper path),
    else a mapping of attributes, children and text."""
    if not node.children and not node.attrs:
        return "" if not node.text else "text"
    out: dict[str, Any] = {f"@_{a}": "attr" for a in node.attrs}
    for child in node.children:
        value = _value_of(child)
        if child.name in out and not child.name.startswith("@_"):
            prev = out[child.name]
            out[child.name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[child.name] = value
    if node.text:
        out["#text"] = "text"
    return out


def _has_path(value: Any, path: list[str]) -> bool:
    current = value
    for key in path:
        if isinstance(current, list):
            if not key.isdigit() or str(int(key)) != key or int(key) >= len(current):
                return False
            current = current[int(key)]
        elif isinstance(current, dict):
            if key not in current:
                return False
            current = current[key]
        else:
            return False
    return True


def missing_elements(text: str, required: list[str] | None) -> list[str]:
    if not required:
        return []
    tree = _value_of(build_tree(text))
    if not isinstance(tree, dict):
        tree = {}
    return [r for r in required if not _has_path(tree, r.split("."))]


# -- strict well-formedness for is-xml ---------------------------------------------------


def well_formed(text: str) -> str | None:
    """None when ``text`` is a well-formed, namespace-correct XML document, else why not."""
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    internal_subset = False

    def doctype(name: str, system_id: str | None, public_id: str | None,
                has_internal_subset: int) -> None:
        nonlocal internal_subset
        if has_internal_subset:
            internal_subset = True
            raise ValueError("internal subset")

    parser.StartDoctypeDeclHandler = doctype
    try:
        parser.Parse(text, True)
    except ValueError:
        if internal_subset:
            return "DTD internal subsets are not supported by is-xml validation"
        raise
    except xml.parsers.expat.ExpatError as exc:
        return f"XML parsing failed: {xml.parsers.expat.ErrorString(exc.code)}"
    return None


def _required(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [p.strip() for p in value.split(",")]
    if isinstance(value, list) and value:
        return [js_string(v) for v in value]
    if isinstance(value, dict) and value:
        items = value.get("requiredElements")
        if isinstance(items, list):
            return [js_string(v) for v in items]
        raise AssertionEvalError("xml assertion must contain a string, array value, or no value")
    return None


def _validate(text: str, required: list[str] | None) -> tuple[bool, str]:
    missing = missing_elements(text, required)
    if missing:
        return False, f"XML is missing required elements: {', '.join(missing)}"
    return True, "XML is valid and contains all required elements"


def check_xml(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    required = _required(value)
    if a.base_type == "is-xml":
        problem = well_formed(output)
        ok, reason = (False, problem) if problem else _validate(output, required)
    else:
        ok, reason = False, "No valid XML content found matching the requirements"
        candidates = xml_candidates(output)
        if not candidates:
            reason = "No XML content found in the output"
        checked: list[Candidate] = []  # read without error: their insides are skipped
        for c in candidates:
            if any(c.start >= k.start and c.end <= k.end for k in checked):
                continue
            if _validate(output[c.start:c.end], required)[0]:
                ok, reason = True, "XML is valid and contains all required elements"
                break
            checked.append(c)
    passed = ok != a.inverse
    return binary(passed, "Assertion passed" if passed else reason)
