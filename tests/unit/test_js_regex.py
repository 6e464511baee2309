"""JavaScript regex semantics on the regex engine (expected values from Node 22's RegExp)."""

from __future__ import annotations

import pytest

from harness.assertions.safe_regex import InvalidRegex, search_js


@pytest.mark.parametrize(("pattern", "text", "found"), [
    (r"\p{Lu}", "Ärger", False),        # without u: the text "p{Lu}"
    (r"\p{Lu}", "p{Lu}", True),
    (r"\w+ve", "naïve", False),          # \w is ASCII
    (r"\bcafé\b", "café au lait", False),  # \b is ASCII too
    (r"\Z", "Z", True),                   # unknown escape = the letter
    ("a{,3}", "a{,3}", True),             # not a quantifier: literal
    (r"(a)\2", "a\x02", True),            # \2 beyond the groups: octal
    (r"\1(a)", "a", True),                # a group not matched yet matches empty
    ("line$", "line\n", False),           # $ only at the very end
    ("x.y", "x\ry", False),               # . stops at \r
    ("a[^]b", "a\nb", True),
    (r"\cJ", "\n", True),
    (r"(?<word>\w+)-\k<word>", "abc-abc", True),
    (r"(?<=\$)\d+", "$42", True),
])
def test_javascript_semantics(pattern, text, found):
    assert (search_js(pattern, text) is not None) is found


@pytest.mark.parametrize("pattern", ["(?P<n>a)", "(?i)a", "(?i:a)", "a++", "a**", "(?#c)",
                                     "(?>a)", "(unclosed", "[z-a]"])
def test_what_javascript_refuses_is_invalid(pattern):
    with pytest.raises(InvalidRegex):
        search_js(pattern, "a")
