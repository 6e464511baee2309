"""Regular expressions written by users, compiled and matched within a budget.

Every pattern that comes from a user (a ``regex`` assertion, a promptfoo config) goes
through this module, never through ``re`` directly, because a backtracking engine can
take exponential time: ``^(a|a)+$`` against 40 ``a`` and a ``b`` runs for minutes. Two
bounds make that impossible:

- matching uses the PyPI ``regex`` engine with a ``timeout``: a match that exceeds the
  budget raises :class:`RegexTimeout` (the caller reports a failed check, not a crash).
  The engine measures the process's CPU time, so on a crowded machine the wall time can
  be a few times the budget; the CPU taken from the server is what it bounds.
  ``regex`` releases the GIL while it matches a ``str``, so a match running in a worker
  thread does not slow the event loop.
- compiling is bounded before it starts: ``regex`` expands counted repetitions, so
  ``(a{1000}){1000}`` takes seconds to compile; patterns longer than
  :data:`MAX_PATTERN_CHARS` or whose nested repetition counts multiply past
  :data:`MAX_REPEAT_PRODUCT` are refused with :class:`InvalidRegex`.

The dialect is JavaScript (promptfoo's), translated onto ``regex`` by
:func:`translate_js` (implemented in :mod:`.js_regex`, the one place to extend for more
of JavaScript's semantics).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import regex

MAX_PATTERN_CHARS = 10_000
"""Longer patterns are refused (a hand-written assertion pattern is far shorter)."""

MAX_REPEAT_PRODUCT = 100_000
"""The largest product of nested ``{m,n}`` counts accepted (``(a{1000}){1000}`` is 10⁶)."""

DEFAULT_TIMEOUT_S = 1.0
"""Matching budget when ``HARNESS_REGEX_TIMEOUT_S`` is unset."""

_COUNTED = regex.compile(r"\{(\d*)(?:,(\d*))?\}")


class InvalidRegex(ValueError):
    """The pattern (or its flags) cannot be compiled, or it is too large to compile safely."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"invalid regex {_shown(pattern)}: {reason}")
        self.pattern = pattern
        self.reason = reason


class RegexTimeout(TimeoutError):
    """Matching took longer than the budget (catastrophic backtracking, or a huge text)."""

    def __init__(self, pattern: str, timeout_s: float) -> None:
        super().__init__(
            f"regex {_shown(pattern)} gave up after {timeout_s:g} s (the pattern backtracks "
            "too much on this text; simplify nested quantifiers such as (a+)+)"
        )
        self.pattern = pattern
        self.timeout_s = timeout_s


def _shown(pattern: str, limit: int = 120) -> str:
    return repr(pattern if len(pattern) <= limit else pattern[:limit] + "…")


def default_timeout() -> float:
    """The configured matching budget in seconds (``HARNESS_REGEX_TIMEOUT_S``)."""
    from harness.config import get_settings

    return get_settings().regex_timeout_s


@dataclass(frozen=True)
class SafePattern:
    """A compiled pattern whose every match call carries the timeout.

    ``source`` is the pattern as the user wrote it (for messages); methods raise
    :class:`RegexTimeout` when the budget runs out.
    """

    source: str
    compiled: regex.Pattern[str]
    timeout_s: float | None = None

    def _budget(self) -> float:
        return self.timeout_s if self.timeout_s is not None else default_timeout()

    def search(self, text: str, pos: int = 0) -> regex.Match[str] | None:
        budget = self._budget()
        try:
            return self.compiled.search(text, pos, timeout=budget)
        except TimeoutError as exc:
            raise RegexTimeout(self.source, budget) from exc

    def match(self, text: str, pos: int = 0) -> regex.Match[str] | None:
        budget = self._budget()
        try:
            return self.compiled.match(text, pos, timeout=budget)
        except TimeoutError as exc:
            raise RegexTimeout(self.source, budget) from exc

    def fullmatch(self, text: str) -> regex.Match[str] | None:
        budget = self._budget()
        try:
            return self.compiled.fullmatch(text, timeout=budget)
        except TimeoutError as exc:
            raise RegexTimeout(self.source, budget) from exc

    def findall_matches(self, text: str) -> list[regex.Match[str]]:
        """Every non-overlapping match, all within one budget."""
        budget = self._budget()
        try:
            return list(self.compiled.finditer(text, timeout=budget))
        except TimeoutError as exc:
            raise RegexTimeout(self.source, budget) from exc

    def sub(self, repl: str, text: str, count: int = 0) -> str:
        budget = self._budget()
        try:
            return self.compiled.sub(repl, text, count=count, timeout=budget)
        except TimeoutError as exc:
            raise RegexTimeout(self.source, budget) from exc


def repeat_product(pattern: str) -> int:
    """The largest product of counted repetitions along any nesting path of ``pattern``.

    ``regex`` unrolls counted repetitions when it compiles, so this number is what its
    compile time grows with. ``*``, ``+`` and ``?`` count as 1 (they are not unrolled); an
    open-ended ``{m,}`` counts as ``m``.
    """
    stack: list[int] = [1]  # the heaviest item seen so far at each open group level
    last = 1  # weight of the item just read (what a following quantifier multiplies)
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            last = 1
        elif ch == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            last = 1
        elif ch == "(":
            stack.append(1)
            i += 1
            last = 1
        elif ch == ")":
            inner = stack.pop() if len(stack) > 1 else 1
            last = inner
            stack[-1] = max(stack[-1], inner)
            i += 1
        elif ch == "{":
            m = _COUNTED.match(pattern, i)
            if m is None or (m.group(1) == "" and not m.group(2)):
                i += 1
                last = 1
                continue
            low = int(m.group(1) or 0)
            high = int(m.group(2)) if m.group(2) else low
            count = max(low, high, 1)
            last = last * count
            stack[-1] = max(stack[-1], last)
            i = m.end()
        else:
            i += 1
            last = 1
        stack[-1] = max(stack[-1], last)
    return max(stack)


def translate_js(pattern: str, multiline: bool = False) -> str:
    """A JavaScript pattern in ``regex`` syntax (see :mod:`.js_regex`, where the dialect
    is translated). Raises :class:`InvalidRegex` where JavaScript would throw."""
    from .js_regex import JsRegexError, translate

    try:
        return translate(pattern, "m" if multiline else "")[0]
    except JsRegexError as exc:
        raise InvalidRegex(pattern, str(exc)) from exc


def _check_size(pattern: str) -> None:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidRegex(pattern, f"longer than {MAX_PATTERN_CHARS} characters")
    product = repeat_product(pattern)
    if product > MAX_REPEAT_PRODUCT:
        raise InvalidRegex(
            pattern, f"counted repetitions multiply to {product} (at most {MAX_REPEAT_PRODUCT})"
        )


@lru_cache(maxsize=1024)
def compile_js(pattern: str, flags: str = "") -> SafePattern:
    """Compile a JavaScript regular expression (with JavaScript ``flags`` such as ``"i"``).

    Raises :class:`InvalidRegex` for a pattern that cannot be compiled (where JavaScript
    throws a SyntaxError) or is too large. The JavaScript dialect is translated by
    :func:`harness.assertions.js_regex.translate` (ASCII ``\\w``, ``\\p{..}`` only with
    ``u``, Python-only syntax refused, ...).
    """
    from .js_regex import JsRegexError, translate

    _check_size(pattern)
    try:
        translated, bits = translate(pattern, flags)
    except JsRegexError as exc:
        raise InvalidRegex(pattern, str(exc)) from exc
    try:
        return SafePattern(pattern, regex.compile(translated, bits))
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidRegex(pattern, str(exc)) from exc


@lru_cache(maxsize=1024)
def compile_python(pattern: str, flags: int = 0) -> SafePattern:
    """Compile a pattern in Python/``regex`` syntax (for options documented as Python
    regexes), with the same size checks and timeouts as :func:`compile_js`."""
    _check_size(pattern)
    try:
        return SafePattern(pattern, regex.compile(pattern, flags))
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidRegex(pattern, str(exc)) from exc


def search_js(pattern: str, text: str, flags: str = "") -> regex.Match[str] | None:
    """``compile_js(pattern, flags).search(text)``: the first match or ``None``.

    Without the ``u`` flag the text is matched as JavaScript's UTF-16 code units (an
    emoji is two characters to ``.``). Raises :class:`InvalidRegex` or
    :class:`RegexTimeout`."""
    from .js_regex import utf16_units

    compiled = compile_js(pattern, flags)
    return compiled.search(text if "u" in flags or "v" in flags else utf16_units(text))
