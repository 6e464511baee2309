"""User regexes are matched within a budget: catastrophic backtracking times out, huge
counted repetitions are refused before compiling, and a regex assertion reports either as
a failed check with the reason (never a crash)."""

from __future__ import annotations

import threading

import pytest

from harness.assertions import AssertionContext, evaluate_assertion
from harness.assertions.safe_regex import (
    InvalidRegex,
    RegexTimeout,
    SafePattern,
    compile_js,
    repeat_product,
    search_js,
)

# ^(a|a)+$ doubles its work with each "a" before the final "b": minutes at 40 characters.
HOSTILE = r"^(a|a)+$"
HOSTILE_TEXT = "a" * 40 + "b"


def _fast(pattern: str) -> SafePattern:
    compiled = compile_js(pattern)
    return SafePattern(compiled.source, compiled.compiled, timeout_s=0.05)


def test_catastrophic_backtracking_times_out_with_a_clear_reason():
    with pytest.raises(RegexTimeout) as err:
        _fast(HOSTILE).search(HOSTILE_TEXT)
    assert "gave up after 0.05 s" in str(err.value)
    assert err.value.pattern == HOSTILE
    assert isinstance(err.value, TimeoutError)


def test_every_match_method_carries_the_timeout():
    rx = _fast(r"(a|a)+$")
    for call in (
        lambda: rx.match(HOSTILE_TEXT),
        lambda: rx.fullmatch(HOSTILE_TEXT),
        lambda: rx.findall_matches(HOSTILE_TEXT),
        lambda: rx.sub("x", HOSTILE_TEXT),
    ):
        with pytest.raises(RegexTimeout):
            call()


def test_matching_lets_other_threads_run():
    # regex releases the GIL while matching a str: a thread counting meanwhile advances.
    counted = 0
    done = threading.Event()

    def count() -> None:
        nonlocal counted
        while not done.is_set():
            counted += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        with pytest.raises(RegexTimeout):
            SafePattern(HOSTILE, compile_js(HOSTILE).compiled, timeout_s=0.3).search(HOSTILE_TEXT)
    finally:
        done.set()
        t.join()
    assert counted > 1000


@pytest.mark.parametrize(
    ("pattern", "product"),
    [
        ("abc", 1),
        (r"\d{3}-\d{4}", 4),
        ("(a{1000}){1000}", 1_000_000),
        ("((a{10}){10}){10}", 1000),
        ("(?:a{2,5}b{3}){4}c{7}", 20),
        (r"[{]{9}\{3}x{,6}", 9),
        ("a{x}b{}", 1),
        ("a+b*c?", 1),
    ],
)
def test_repeat_product(pattern, product):
    assert repeat_product(pattern) == product


def test_patterns_too_large_to_compile_safely_are_refused():
    with pytest.raises(InvalidRegex, match="multiply to 1000000"):
        compile_js("(a{1000}){1000}")
    with pytest.raises(InvalidRegex, match="longer than"):
        compile_js("a" * 10_001)


def test_invalid_patterns_and_flags():
    with pytest.raises(InvalidRegex, match="invalid regex '\\(x'"):
        compile_js("(x")
    with pytest.raises(InvalidRegex, match="Invalid flags supplied to RegExp constructor 'q'"):
        compile_js("x", "q")


def test_javascript_translation_and_flags():
    assert search_js("done$", "done\n") is None
    assert search_js("done$", "done\nnext", "m") is not None
    assert search_js(r"(?<y>\d{4})-\k<y>", "2024-2024").group("y") == "2024"
    assert search_js("[^]", "\n") is not None
    assert search_js("a[]", "a") is None
    assert search_js("HELLO", "hello", "i") is not None
    assert search_js("a.b", "a\nb", "s") is not None
    assert search_js(r"\p{L}+", "한국어 x", "u").group(0) == "한국어"
    # without the u flag JavaScript reads \p{L} as the text "p{L}"
    assert search_js(r"\p{L}+", "한국어 x") is None
    assert search_js(r"\p{L}", "p{L}") is not None


async def test_regex_assertion_that_times_out_fails_with_the_reason(monkeypatch):
    monkeypatch.setenv("HARNESS_REGEX_TIMEOUT_S", "0.05")
    from harness.config import get_settings

    get_settings.cache_clear()
    try:
        r = await evaluate_assertion(
            {"type": "regex", "value": HOSTILE}, HOSTILE_TEXT, AssertionContext()
        )
        inverse = await evaluate_assertion(
            {"type": "not-regex", "value": HOSTILE}, HOSTILE_TEXT, AssertionContext()
        )
    finally:
        get_settings.cache_clear()
    for result in (r, inverse):
        assert not result.passed and result.error
        assert "gave up after 0.05 s" in result.reason
