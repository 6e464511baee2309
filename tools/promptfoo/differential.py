"""The differential corpus against the real promptfoo.

    python tools/promptfoo/differential.py regenerate [NAME ...]
        run promptfoo 0.123.1 (installed by tools/promptfoo/install.sh, needs npm) on
        each corpus config and write expected/<name>.json (commit them)
    python tools/promptfoo/differential.py report [NAME ...]
        run `harness eval` on the corpus and print the agreement figures (JSON) and
        every difference, documented or not (no Node needed)

The comparison itself lives in tests/support/promptfoo_differential.py and the test is
tests/unit/test_promptfoo_differential.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "libs"))

from tests.support import promptfoo_differential as diff  # noqa: E402

PROMPTFOO_TIMEOUT_S = 600


def promptfoo_bin() -> str:
    """The promptfoo wrapper: $HARNESS_PROMPTFOO_BIN, else install (idempotent)."""
    explicit = os.environ.get("HARNESS_PROMPTFOO_BIN")
    if explicit:
        return explicit
    out = subprocess.run(["bash", str(ROOT / "tools" / "promptfoo" / "install.sh")],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def run_promptfoo(binary: str, name: str) -> dict:
    folder = diff.CONFIGS / name
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "out.json"
        proc = subprocess.run(
            [binary, "eval", "-c", "promptfooconfig.yaml", "-o", str(output), "--no-cache",
             "--no-progress-bar", "--no-table", "-j", "4"],
            cwd=folder, capture_output=True, text=True, timeout=PROMPTFOO_TIMEOUT_S,
            env={**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1",
                 "PROMPTFOO_DISABLE_UPDATE": "1", "NO_COLOR": "1"})
        data = json.loads(output.read_text("utf-8")) if output.is_file() else None
    if data is None:
        tail = "\n".join((proc.stderr + proc.stdout).strip().splitlines()[-8:])
        print(f"{name}: promptfoo exited {proc.returncode} without results:\n{tail}",
              file=sys.stderr)
    return diff.normalize(data, proc.returncode, name)


def regenerate(names: list[str]) -> None:
    binary = promptfoo_bin()
    diff.EXPECTED.mkdir(parents=True, exist_ok=True)
    for name in names:
        result = run_promptfoo(binary, name)
        result["promptfoo"] = "0.123.1"
        (diff.EXPECTED / f"{name}.json").write_text(
            json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{name}: exit {result['exit_code']}, {len(result['rows'])} rows, "
              f"stats {result['stats']}")


def report(names: list[str]) -> None:
    allowed = diff.allowed_differences()
    comparisons = []
    for name in names:
        cmp = diff.compare(diff.load_expected(name), diff.run_harness(name), allowed)
        comparisons.append(cmp)
        for line in cmp.differences:
            print("DIFF", line, file=sys.stderr)
        for line in cmp.allowed:
            print("documented", line, file=sys.stderr)
    per_config = {c.config: f"{c.rows_agreeing}/{c.rows} rows, "
                            f"{c.verdicts_agreeing}/{c.verdicts} verdicts"
                  for c in comparisons}
    print(json.dumps({**diff.summary(comparisons), "per_config": per_config}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("regenerate", "report"))
    parser.add_argument("names", nargs="*", help="corpus configs (default: all)")
    args = parser.parse_args()
    names = args.names or diff.config_names()
    if args.command == "regenerate":
        regenerate(names)
    else:
        report(names)


if __name__ == "__main__":
    main()
