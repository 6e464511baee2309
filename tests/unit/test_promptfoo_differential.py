"""``harness eval`` gives promptfoo 0.123.1's own verdicts on the differential corpus.

The expected results were produced by the real promptfoo
(``tools/promptfoo/differential.py regenerate``) and are committed, so this test needs
no Node. Every difference must be listed, with its reason, in
``docs/promptfoo-differences.md``; an entry there that no longer matches a difference
fails too, so the table stays true.
"""

from __future__ import annotations

from functools import cache

import pytest

from tests.support import promptfoo_differential as diff

NAMES = diff.config_names()
MIN_ROWS = 300
# Configs harness does not agree on yet (issue 14 is fixing them, one by one); each fix
# removes its name here. Not a place for intentional differences: those go in
# docs/promptfoo-differences.md with their reason.
NOT_YET_AGREEING: set[str] = set()


@cache
def _harness(name: str) -> dict:
    return diff.run_harness(name)


@cache
def _allowed() -> tuple[diff.Allowed, ...]:
    return tuple(diff.allowed_differences())


def test_every_config_has_promptfoo_results():
    missing = [n for n in NAMES if not (diff.EXPECTED / f"{n}.json").is_file()]
    assert not missing, f"run tools/promptfoo/differential.py regenerate {' '.join(missing)}"
    stale = sorted(p.stem for p in diff.EXPECTED.glob("*.json") if p.stem not in NAMES)
    assert not stale, f"expected results without a config: {stale}"


def test_corpus_is_large_enough():
    rows = sum(len(diff.load_expected(n)["rows"]) for n in NAMES)
    assert rows >= MIN_ROWS, f"only {rows} promptfoo rows in the corpus"


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason="issue 14: not yet fixed", strict=True))
    if n in NOT_YET_AGREEING else n for n in NAMES])
def test_harness_agrees_with_promptfoo(name):
    cmp = diff.compare(diff.load_expected(name), _harness(name), list(_allowed()))
    assert not cmp.differences, (
        f"{len(cmp.differences)} undocumented difference(s) from promptfoo:\n"
        + "\n".join(cmp.differences))


def test_documented_differences_still_exist():
    """Each line of the table must still describe a real difference."""
    used: set[diff.Allowed] = set()
    allowed = list(_allowed())
    for name in NAMES:
        if name in NOT_YET_AGREEING:
            continue
        cmp = diff.compare(diff.load_expected(name), _harness(name), allowed)
        for line in cmp.allowed:
            config, row, fld = line.split(":", 1)[0].split(" ")
            used.update(a for a in allowed if a.covers(config, row, fld))
    unused = [a for a in allowed if a not in used]
    assert not unused, f"documented differences that no longer occur: {unused}"
