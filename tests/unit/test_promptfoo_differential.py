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
# Configs whose harness side needs what tools/promptfoo/install.sh installs (.ci/run runs
# it): Node >= 22.22 for javascript assertions, WordNet's files for meteor. Without them
# those configs are skipped with the reason instead of failing.
NEEDS_INSTALL = {"code_assertions": "node", "assertion_transforms": "node",
                 "test_transforms": "node", "meteor": "wordnet"}


@cache
def _missing_install(name: str) -> str | None:
    need = NEEDS_INSTALL.get(name)
    try:
        if need == "node":
            from harness.promptfoo.node import find_node

            find_node()
        elif need == "wordnet":
            from harness.assertions.wordnet import find_dict_dir

            find_dict_dir()
    except Exception as exc:  # noqa: BLE001 - any reason it is missing is the skip reason
        return f"{name} needs tools/promptfoo/install.sh's install: {exc}"
    return None


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
    if _missing_install(name):
        pytest.skip(_missing_install(name))
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
        if _missing_install(name):
            allowed = [a for a in allowed if a.config != name]
            continue
        cmp = diff.compare(diff.load_expected(name), _harness(name), allowed)
        for line in cmp.allowed:
            config, row, fld = line.split(":", 1)[0].split(" ")
            used.update(a for a in allowed if a.covers(config, row, fld))
    unused = [a for a in allowed if a not in used]
    assert not unused, f"documented differences that no longer occur: {unused}"
