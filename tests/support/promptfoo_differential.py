"""The differential check of ``harness eval`` against the real promptfoo.

Each corpus config (``tests/fixtures/promptfoo/differential/configs/<name>/``) is run
once by promptfoo 0.123.1 (``tools/promptfoo/differential.py regenerate``, which needs
Node) and the normalized results are committed as ``expected/<name>.json``. The test
(``tests/unit/test_promptfoo_differential.py``, no Node) runs harness's own engine on
the same config, normalizes its promptfoo-format output the same way and compares row
by row. A difference fails the test unless ``docs/promptfoo-differences.md`` lists it,
with its reason, in its one table of intentional differences.

Normalized shape (one file per config)::

    {"config": name, "exit_code": 0 | 100 | 1, "stats": {successes, failures, errors},
     "rows": [{"test": testIdx, "prompt": promptIdx, "success": bool, "score": float,
               "error": bool, "rendered": str, "assertions": [bool, ...] | null}]}

``rendered`` is the echo provider's output, i.e. the prompt exactly as the provider
received it (the results file's ``prompt.raw`` is not used: promptfoo's writer
re-serializes JSON-looking prompts compactly there). ``error`` is promptfoo's
``failureReason == 2`` (the row errored: rendering, the provider, or an assertion that
could not be run); ``assertions`` are the per-assertion
verdicts (``componentResults[].pass``), null on error rows, which carry none.
"""

from __future__ import annotations

import io
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "promptfoo" / "differential"
CONFIGS = CORPUS / "configs"
EXPECTED = CORPUS / "expected"
DIFFERENCES_DOC = ROOT / "docs" / "promptfoo-differences.md"
ROW_FIELDS = ("success", "score", "error", "rendered", "assertions")
SCORE_TOLERANCE = 1e-9


def config_names() -> list[str]:
    return sorted(p.name for p in CONFIGS.iterdir()
                  if (p / "promptfooconfig.yaml").is_file())


def normalize(results: dict[str, Any] | None, exit_code: int, name: str) -> dict[str, Any]:
    """The comparable core of a promptfoo results file (``-o out.json``)."""
    out: dict[str, Any] = {"config": name, "exit_code": exit_code, "stats": None, "rows": []}
    if results is None:
        return out
    summary = results["results"]
    stats = summary.get("stats") or {}
    out["stats"] = {k: stats.get(k, 0) for k in ("successes", "failures", "errors")}
    rows = []
    for r in summary["results"]:
        errored = r.get("failureReason") == 2
        grading = r.get("gradingResult") or None
        verdicts = None
        if grading is not None and not errored:
            verdicts = [bool(c.get("pass")) for c in grading.get("componentResults") or []]
        response = r.get("response") or {}
        rows.append({
            "test": r["testIdx"], "prompt": r["promptIdx"],
            "success": bool(r.get("success")),
            "score": float(r.get("score") or 0.0),
            "error": errored,
            "rendered": response.get("output") if not errored else None,
            "assertions": verdicts,
        })
    rows.sort(key=lambda row: (row["test"], row["prompt"]))
    out["rows"] = rows
    return out


def run_harness(name: str) -> dict[str, Any]:
    """``harness eval`` (the built-in engine, as the CLI runs it) on one corpus config."""
    from rich.console import Console

    from harness.llm import LLMClient
    from harness.promptfoo import eval_command

    config = CONFIGS / name / "promptfooconfig.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "out.json"
        console = Console(file=io.StringIO(), width=200)
        code = eval_command(config, output, no_cache=True, console=console,
                            llm=LLMClient(cache=False))
        data = json.loads(output.read_text("utf-8")) if output.is_file() else None
    return normalize(data, code, name)


def load_expected(name: str) -> dict[str, Any]:
    return json.loads((EXPECTED / f"{name}.json").read_text("utf-8"))


# --------------------------------------------------------------- documented differences
@dataclass(frozen=True)
class Allowed:
    """One line of the differences table: ``config``, ``row`` (``*``, ``t3`` = test 3
    on every prompt, ``t3p1``), ``field`` (a row field, ``*``, ``exit_code`` or
    ``stats``) and why."""

    config: str
    row: str
    field: str
    reason: str

    def covers(self, config: str, row: str, fld: str) -> bool:
        if self.config not in ("*", config) or self.field not in ("*", fld):
            return False
        if self.row == "*" or self.row == row:
            return True
        return row.startswith(self.row + "p")


_TABLE_START = "<!-- differences:start -->"
_TABLE_END = "<!-- differences:end -->"


def allowed_differences(doc: Path = DIFFERENCES_DOC) -> list[Allowed]:
    """The rows of the one table between the markers in ``docs/promptfoo-differences.md``."""
    text = doc.read_text("utf-8")
    start, end = text.index(_TABLE_START), text.index(_TABLE_END)
    out = []
    for line in text[start:end].splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("config", "") or set(cells[0]) <= {"-", ":"}:
            continue
        if not cells[3]:
            raise ValueError(f"{doc}: a difference without its reason: {line!r}")
        out.append(Allowed(*cells))
    return out


# --------------------------------------------------------------- comparison
@dataclass
class Comparison:
    """Row-by-row agreement of one config."""

    config: str
    rows: int = 0
    rows_agreeing: int = 0
    verdicts: int = 0
    verdicts_agreeing: int = 0
    differences: list[str] = field(default_factory=list)  # not covered by the table
    allowed: list[str] = field(default_factory=list)      # covered by the table


def _same(fld: str, a: Any, b: Any) -> bool:
    if fld == "score" and isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=0, abs_tol=SCORE_TOLERANCE)
    return a == b


def compare(expected: dict[str, Any], actual: dict[str, Any],
            allowed: list[Allowed] | None = None) -> Comparison:
    """Compare harness's normalized results with promptfoo's."""
    allowed = allowed if allowed is not None else []
    name = expected["config"]
    cmp = Comparison(config=name)

    def note(row: str, fld: str, text: str) -> None:
        where = f"{name} {row} {fld}: {text}"
        if any(a.covers(name, row, fld) for a in allowed):
            cmp.allowed.append(where)
        else:
            cmp.differences.append(where)

    for fld in ("exit_code", "stats"):
        if not _same(fld, expected[fld], actual[fld]):
            note("*", fld, f"promptfoo {expected[fld]!r}, harness {actual[fld]!r}")
    mine = {(r["test"], r["prompt"]): r for r in actual["rows"]}
    theirs = {(r["test"], r["prompt"]) for r in expected["rows"]}
    for key in sorted(set(mine) - theirs):
        note(f"t{key[0]}p{key[1]}", "*", "row only in harness")
    for exp in expected["rows"]:
        key = (exp["test"], exp["prompt"])
        row = f"t{key[0]}p{key[1]}"
        got = mine.get(key)
        cmp.rows += 1
        n_verdicts = len(exp["assertions"] or [])
        cmp.verdicts += n_verdicts
        if got is None:
            note(row, "*", "row missing in harness")
            continue
        agree = True
        for fld in ROW_FIELDS:
            if not _same(fld, exp[fld], got[fld]):
                agree = False
                note(row, fld, f"promptfoo {_short(exp[fld])}, harness {_short(got[fld])}")
        if agree:
            cmp.rows_agreeing += 1
        theirs_v, mine_v = exp["assertions"] or [], got["assertions"] or []
        cmp.verdicts_agreeing += sum(
            1 for i, v in enumerate(theirs_v) if i < len(mine_v) and mine_v[i] == v)
    return cmp


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(comparisons: list[Comparison]) -> dict[str, Any]:
    """Agreement figures over the whole corpus."""
    rows = sum(c.rows for c in comparisons)
    rows_ok = sum(c.rows_agreeing for c in comparisons)
    verdicts = sum(c.verdicts for c in comparisons)
    verdicts_ok = sum(c.verdicts_agreeing for c in comparisons)
    return {
        "configs": len(comparisons),
        "rows": rows, "rows_agreeing": rows_ok,
        "rows_agreement_pct": round(100.0 * rows_ok / rows, 2) if rows else None,
        "verdicts": verdicts, "verdicts_agreeing": verdicts_ok,
        "verdicts_agreement_pct": round(100.0 * verdicts_ok / verdicts, 2) if verdicts else None,
        "documented_differences": sum(len(c.allowed) for c in comparisons),
        "undocumented_differences": sum(len(c.differences) for c in comparisons),
    }
