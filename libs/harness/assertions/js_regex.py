"""JavaScript regular expressions translated onto the PyPI ``regex`` engine.

promptfoo evaluates a ``regex`` assertion with ``new RegExp(value)``: JavaScript's
syntax, no flags. The differences from Python that change a verdict, and how each is
handled here:

- ``\\w \\d \\b`` are ASCII-only in JavaScript (``\\w`` does not match ``é``); ``\\s`` is
  JavaScript's whitespace set; ``.`` stops at ``\\r``, ``\\u2028`` and ``\\u2029`` too;
  ``$`` (without ``m``) matches only at the very end, never before a final newline;
- without the ``u`` flag an unknown escape is the letter itself (``\\p{Lu}`` is
  ``p{Lu}``, ``\\Z`` is ``Z``), ``{`` that is not a quantifier is literal,
  ``\\1`` beyond the groups is an octal escape, ``\\k<name>`` without named groups is
  ``k<name>``; with ``u`` Unicode property classes work and those are errors;
- Python-only syntax is an error as in JavaScript: ``(?P<name>…)``, inline flags
  ``(?i)``, atomic groups, possessive quantifiers (``a++``), ``\\A``-style anchors are
  just letters (above);
- named groups ``(?<name>…)``, lookbehind, ``[^]`` (any character) and ``[]`` (nothing).

:func:`translate` raises :class:`JsRegexError` where JavaScript throws a SyntaxError;
:mod:`.safe_regex` compiles and runs the result with its size checks and timeout.
"""

from __future__ import annotations

import re

import regex

__all__ = ["JsRegexError", "compile_js_regex", "from_utf16_units", "translate",
           "utf16_units"]


def from_utf16_units(text: str) -> str:
    """Back from :func:`utf16_units`: pairs rejoined, a lone surrogate (half of a
    character a match cut in two) becomes U+FFFD."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def utf16_units(text: str) -> str:
    """``text`` as JavaScript strings hold it: every character beyond U+FFFF becomes its
    two UTF-16 surrogates, so ``.`` and ``{n}`` count what JavaScript counts (without
    the ``u`` flag a JavaScript regex, and ``.length``, see code units)."""
    if all(ord(ch) <= 0xFFFF for ch in text):
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(chr(0xD800 + (code >> 10)))
            out.append(chr(0xDC00 + (code & 0x3FF)))
        else:
            out.append(ch)
    return "".join(out)


class JsRegexError(ValueError):
    """JavaScript would refuse this pattern (``SyntaxError: Invalid regular expression``)."""


_WORD = "A-Za-z0-9_"
_DIGIT = "0-9"
_SPACE = ("\\t\\n\\x0b\\f\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f"
          "\\u3000\\ufeff")
_LINE_END = "\\n\\r\\u2028\\u2029"
_BOUNDARY = f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))"
_NOT_BOUNDARY = f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))"
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")
_SYNTAX = set("^$\\.*+?()[]{}|/")


def _complement(ranges: list[tuple[int, int]]) -> str:
    out, start = [], 0
    for low, high in sorted(ranges):
        if low > start:
            out.append((start, low - 1))
        start = max(start, high + 1)
    if start <= 0x10FFFF:
        out.append((start, 0x10FFFF))
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in out)


_SPACE_RANGES = [(0x09, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680),
                 (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
                 (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
_CLASS_ESCAPES = {
    "d": _DIGIT, "w": _WORD, "s": _SPACE,
    "D": _complement([(0x30, 0x39)]),
    "W": _complement([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
    "S": _complement(_SPACE_RANGES),
}
_CONTROL = {"n": "\\n", "r": "\\r", "t": "\\t", "f": "\\f", "v": "\\x0b"}


def _char(code: int) -> str:
    return f"\\U{code:08x}"


def _scan_groups(pattern: str) -> tuple[int, set[str]]:
    """Capturing groups and group names, as JavaScript counts them."""
    count, names, i, in_class = 0, set(), 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            if not pattern.startswith("(?", i):
                count += 1
            else:
                m = re.match(r"\(\?<([A-Za-z_$][\w$]*)>", pattern[i:])
                if m:
                    count += 1
                    names.add(m.group(1))
        i += 1
    return count, names


class _Translator:
    def __init__(self, pattern: str, flags: str) -> None:
        self.p = pattern
        self.u = "u" in flags or "v" in flags
        self.dotall = "s" in flags
        self.multiline = "m" in flags
        self.groups, self.names = _scan_groups(pattern)
        self.i = 0
        self.out: list[str] = []

    def fail(self, message: str) -> JsRegexError:
        return JsRegexError(f"Invalid regular expression: /{self.p}/: {message}")

    # -- escapes -------------------------------------------------------------------
    def escape(self, in_class: bool) -> tuple[str, str]:
        """(translation, kind) for the escape at ``self.i`` (the backslash);
        kind is 'atom', 'assert' or 'class'."""
        p, i = self.p, self.i
        if i + 1 >= len(p):
            raise self.fail("\\ at end of pattern")
        ch = p[i + 1]
        self.i = i + 2
        if ch in _CLASS_ESCAPES:
            body = _CLASS_ESCAPES[ch]
            return (body, "class") if in_class else (f"[{body}]", "atom")
        if ch in "bB":
            if in_class:
                return ("\\x08", "atom") if ch == "b" else self.identity("B")
            return (_BOUNDARY if ch == "b" else _NOT_BOUNDARY), "assert"
        if ch in _CONTROL:
            return _CONTROL[ch], "atom"
        if ch == "0" and not (i + 2 < len(p) and p[i + 2].isdigit()):
            return "\\x00", "atom"
        if ch.isdigit():
            m = re.match(r"\d+", p[i + 1:])
            number = int(m.group(0))
            if not in_class and 1 <= number <= self.groups:
                self.i = i + 1 + len(m.group(0))
                # a group that has not matched (yet) matches the empty string in JavaScript
                return f"(?({number})\\{number}|)", "atom"
            if self.u:
                raise self.fail("Invalid escape" if in_class else "Invalid decimal escape")
            octal = re.match(r"[0-3][0-7]{0,2}|[4-7][0-7]?", p[i + 1:])
            if octal:
                self.i = i + 1 + len(octal.group(0))
                return _char(int(octal.group(0), 8)), "atom"
            return self.identity(ch)
        if ch == "k":
            if self.names or self.u:
                m = re.match(r"<([A-Za-z_$][\w$]*)>", p[i + 2:])
                if not m or m.group(1) not in self.names:
                    raise self.fail("Invalid named capture referenced")
                self.i = i + 2 + len(m.group(0))
                return f"(?P={m.group(1)})", "atom"
            return self.identity("k")
        if ch == "c":
            if i + 2 < len(p) and p[i + 2].isascii() and p[i + 2].isalpha():
                self.i = i + 3
                return _char(ord(p[i + 2]) % 32), "atom"
            if self.u:
                raise self.fail("Invalid unicode escape")
            self.i = i + 1  # "\c" is a backslash, then "c" is read as itself
            return "\\\\", "atom"
        if ch == "x":
            m = re.match(r"[0-9a-fA-F]{2}", p[i + 2:])
            if m:
                self.i = i + 4
                return _char(int(m.group(0), 16)), "atom"
            if self.u:
                raise self.fail("Invalid escape")
            return self.identity("x")
        if ch == "u":
            m = re.match(r"[0-9a-fA-F]{4}", p[i + 2:])
            if m:
                self.i = i + 6
                return _char(int(m.group(0), 16)), "atom"
            if self.u:
                m = re.match(r"\{([0-9a-fA-F]+)\}", p[i + 2:])
                if m and int(m.group(1), 16) <= 0x10FFFF:
                    self.i = i + 2 + len(m.group(0))
                    return _char(int(m.group(1), 16)), "atom"
                raise self.fail("Invalid Unicode escape")
            return self.identity("u")
        if ch in "pP" and self.u:
            m = re.match(r"\{([A-Za-z_]+(?:=[A-Za-z_]+)?)\}", p[i + 2:])
            if not m:
                raise self.fail("Invalid property name")
            self.i = i + 2 + len(m.group(0))
            prop = f"\\{ch}{{{m.group(1)}}}"
            return (prop, "class") if in_class else (prop, "atom")
        if self.u and ch not in _SYNTAX and not (in_class and ch == "-"):
            raise self.fail("Invalid escape")
        return self.identity(ch)

    @staticmethod
    def identity(ch: str) -> tuple[str, str]:
        return regex.escape(ch), "atom"

    # -- character classes ---------------------------------------------------------
    def char_class(self) -> str:
        p = self.p
        start = self.i
        self.i += 1
        negate = self.i < len(p) and p[self.i] == "^"
        if negate:
            self.i += 1
        if self.i < len(p) and p[self.i] == "]":
            self.i += 1
            return "[\\s\\S]" if negate else "(?!)"
        items: list[tuple[str, str]] = []  # (text, kind) kind: char | class | dash
        while True:
            if self.i >= len(p):
                self.i = start
                raise self.fail("Unterminated character class")
            ch = p[self.i]
            if ch == "]":
                self.i += 1
                break
            if ch == "\\":
                text, kind = self.escape(in_class=True)
                items.append((text, "class" if kind == "class" else "char"))
                continue
            self.i += 1
            if ch == "-":
                items.append(("-", "dash"))
            else:
                items.append((regex.escape(ch) if ch in "[&~|^" else ch, "char"))
        out: list[str] = []
        k = 0
        while k < len(items):
            text, kind = items[k]
            ranged = k + 2 < len(items) and items[k + 1][1] == "dash" and kind != "dash" \
                and items[k + 2][1] != "dash"
            if ranged and kind == "char" and items[k + 2][1] == "char":
                out.append(f"{text}-{items[k + 2][0]}")
                k += 3
                continue
            if ranged and self.u:
                raise self.fail("Invalid character class")
            out.append("\\-" if kind == "dash" else text)
            k += 1
        return ("[^" if negate else "[") + "".join(out) + "]"

    # -- the whole pattern ---------------------------------------------------------
    def run(self) -> str:
        p = self.p
        last = "none"  # none | atom | assert | quant | lazy | lookahead
        while self.i < len(p):
            ch = p[self.i]
            if ch == "\\":
                text, kind = self.escape(in_class=False)
                self.out.append(text)
                last = "assert" if kind == "assert" else "atom"
            elif ch == "[":
                self.out.append(self.char_class())
                last = "atom"
            elif ch == ".":
                self.out.append("[\\s\\S]" if self.dotall else f"[^{_LINE_END}]")
                self.i += 1
                last = "atom"
            elif ch == "^":
                self.out.append(f"(?:(?<![\\s\\S])|(?<=[{_LINE_END}]))" if self.multiline
                                else "(?<![\\s\\S])")
                self.i += 1
                last = "assert"
            elif ch == "$":
                self.out.append(f"(?=[{_LINE_END}]|(?![\\s\\S]))" if self.multiline
                                else "(?![\\s\\S])")
                self.i += 1
                last = "assert"
            elif ch == "(":
                last = self.open_group()
            elif ch == ")":
                self.out.append(")")
                self.i += 1
                last = "lookahead" if self.closing_lookahead() else "atom"
            elif ch == "|":
                self.out.append("|")
                self.i += 1
                last = "none"
            elif ch in "*+?":
                last = self.quantifier(ch, last, 1)
            elif ch == "{":
                m = _QUANTIFIER.match(p, self.i)
                if m:
                    low, high = int(m.group(1)), m.group(3)
                    if m.group(2) and high and int(high) < low:
                        raise self.fail("numbers out of order in {} quantifier")
                    last = self.quantifier(m.group(0), last, len(m.group(0)))
                elif self.u:
                    raise self.fail("Lone quantifier brackets")
                else:
                    self.out.append("\\{")
                    self.i += 1
                    last = "atom"
            elif ch in "}]":
                if self.u:
                    raise self.fail("Lone quantifier brackets")
                self.out.append("\\" + ch)
                self.i += 1
                last = "atom"
            else:
                self.out.append(regex.escape(ch) if ch in "#&~ \t\n" else ch)
                self.i += 1
                last = "atom"
        return "".join(self.out)

    _open_stack: list[str]

    def open_group(self) -> str:
        p, i = self.p, self.i
        if not hasattr(self, "_open_stack"):
            self._open_stack = []
        if p.startswith("(?", i):
            for head, kind in (("(?:", "group"), ("(?=", "lookahead"), ("(?!", "lookahead"),
                               ("(?<=", "lookbehind"), ("(?<!", "lookbehind")):
                if p.startswith(head, i):
                    self.out.append(head)
                    self.i += len(head)
                    self._open_stack.append(kind)
                    return "none"
            m = re.match(r"\(\?<([A-Za-z_$][\w$]*)>", p[i:])
            if m:
                self.out.append(f"(?P<{m.group(1)}>")
                self.i += len(m.group(0))
                self._open_stack.append("group")
                return "none"
            raise self.fail("Invalid group")
        self.out.append("(")
        self.i += 1
        self._open_stack.append("group")
        return "none"

    def closing_lookahead(self) -> bool:
        stack = getattr(self, "_open_stack", [])
        if not stack:
            raise self.fail("Unmatched ')'")
        kind = stack.pop()
        if kind == "lookbehind":
            return False  # quantifying a lookbehind is an error: treated as an assertion
        return kind == "lookahead" and not self.u

    def quantifier(self, text: str, last: str, width: int) -> str:
        if text == "?" and last == "quant":
            self.out.append("?")
            self.i += 1
            return "lazy"
        if last not in ("atom", "lookahead"):
            raise self.fail("Nothing to repeat")
        self.out.append(text)
        self.i += width
        return "quant"


def translate(pattern: str, flags: str = "") -> tuple[str, int]:
    """``(pattern in regex syntax, regex flags)`` for a JavaScript pattern and its flags;
    :class:`JsRegexError` where JavaScript throws."""
    for f in flags:
        if f not in "dgimsuvy" or flags.count(f) > 1:
            raise JsRegexError(f"Invalid flags supplied to RegExp constructor '{flags}'")
    unicode = "u" in flags or "v" in flags
    translator = _Translator(pattern if unicode else utf16_units(pattern), flags)
    body = translator.run()
    if getattr(translator, "_open_stack", []):
        raise translator.fail("Unterminated group")
    bits = regex.V0 | (regex.IGNORECASE if "i" in flags else 0)
    return body, bits


def compile_js_regex(pattern: str, flags: str = "") -> regex.Pattern[str]:
    """Compile directly (no size checks or timeout: for schema ``format: regex``)."""
    body, bits = translate(pattern, flags)
    try:
        return regex.compile(body, bits)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise JsRegexError(f"Invalid regular expression: /{pattern}/: {exc}") from exc
