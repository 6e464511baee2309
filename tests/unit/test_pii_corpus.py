"""PII corpus: labels are well-formed, and per-kind precision/recall meet the goals.

Run with ``-s`` to see the table; the scores are also written to
``test-artifacts/pii-scores.json``.
"""

from __future__ import annotations

import ipaddress
import json
import re
import runpy
from collections import Counter
from pathlib import Path

import pytest

from harness.pii import KINDS, detect, luhn_valid

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "pii" / "corpus.jsonl"
GENERATOR = ROOT / "tests" / "fixtures" / "pii" / "make_corpus.py"
SCORES = ROOT / "test-artifacts" / "pii-scores.json"

RECALL_ONE = ("phone", "email", "rrn", "card")
MIN_PRECISION = 0.95


def load() -> list[dict]:
    with CORPUS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# Shape checks written independently of the detectors: they catch a label whose span is
# off by a character or whose value is not what its kind claims (e.g. a "card" that
# fails Luhn).
def _shape_ok(kind: str, value: str) -> bool:
    if kind == "phone":
        return (value.startswith(("0", "(0", "+82"))
                and 9 <= len(digits(value)) <= 13 and value[-1].isdigit())
    if kind == "email":
        local, _, domain = value.partition("@")
        return bool(local) and "." in domain and domain.rsplit(".", 1)[1].isalpha()
    if kind == "rrn":
        return len(digits(value)) == 13 and value[0].isdigit() and value[-1].isdigit()
    if kind == "card":
        return 13 <= len(digits(value)) <= 19 and luhn_valid(value)
    if kind == "account":
        return 10 <= len(digits(value)) <= 14 and value[0].isdigit() and value[-1].isdigit()
    if kind == "ip":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return False
        return True
    if kind == "passport":
        return re.fullmatch(r"[A-Z]\d{8}|[A-Z]\d{3}[A-Z]\d{4}", value) is not None
    if kind == "driver_license":
        return len(digits(value)) in (10, 12) and value[-1].isdigit()
    return False


def test_corpus_labels_are_well_formed():
    rows = load()
    assert len(rows) >= 200
    problems = []
    for n, row in enumerate(rows, 1):
        text = row["text"]
        assert set(row) >= {"text", "entities"}, n
        last_end = -1
        for e in sorted(row["entities"], key=lambda e: e["start"]):
            value = text[e["start"]:e["end"]]
            if e["kind"] not in KINDS:
                problems.append((n, "unknown kind", e))
            elif not (0 <= e["start"] < e["end"] <= len(text)):
                problems.append((n, "span out of range", e))
            elif value != value.strip():
                problems.append((n, "span has edge whitespace", value))
            elif e["start"] < last_end:
                problems.append((n, "overlapping spans", e))
            elif not _shape_ok(e["kind"], value):
                problems.append((n, f"not a {e['kind']}", value))
            last_end = e["end"]
    assert not problems, problems


def test_corpus_composition():
    rows = load()
    langs = Counter(r.get("lang") for r in rows)
    assert langs["ko"] >= 100 and langs["en"] >= 80, langs
    with_pii = sum(1 for r in rows if r["entities"])
    assert with_pii >= 100 and len(rows) - with_pii >= 100
    groups = Counter(r.get("group") for r in rows)
    assert groups["near_miss"] >= 60 and groups["clean"] >= 20, groups
    per_kind = Counter(e["kind"] for r in rows for e in r["entities"])
    assert all(per_kind[k] >= 8 for k in KINDS), per_kind


def test_corpus_file_matches_its_generator():
    generated = runpy.run_path(str(GENERATOR), run_name="pii_corpus")["rows"]
    assert generated == load(), "corpus.jsonl is stale: run tests/fixtures/pii/make_corpus.py"


def score(rows: list[dict]) -> tuple[dict[str, dict], list[tuple]]:
    tp, fp, fn = Counter(), Counter(), Counter()
    errors = []
    for row in rows:
        gold = {(e["kind"], e["start"], e["end"]) for e in row["entities"]}
        pred = {(f.kind, f.start, f.end) for f in detect(row["text"])}
        for k, *_ in pred & gold:
            tp[k] += 1
        for item in pred - gold:
            fp[item[0]] += 1
            errors.append(("FP", item, row["text"]))
        for item in gold - pred:
            fn[item[0]] += 1
            errors.append(("FN", item, row["text"]))
    table = {}
    for k in KINDS:
        predicted, actual = tp[k] + fp[k], tp[k] + fn[k]
        table[k] = {
            "tp": tp[k], "fp": fp[k], "fn": fn[k], "support": actual,
            "precision": round(tp[k] / predicted, 4) if predicted else 1.0,
            "recall": round(tp[k] / actual, 4) if actual else 1.0,
        }
    return table, errors


@pytest.fixture(scope="module")
def scores():
    rows = load()
    table, errors = score(rows)
    langs = Counter(r.get("lang") for r in rows)
    doc = {
        "corpus": str(CORPUS.relative_to(ROOT)),
        "sentences": len(rows),
        "languages": dict(langs),
        "with_pii": sum(1 for r in rows if r["entities"]),
        "groups": dict(Counter(r.get("group") for r in rows)),
        "match": "exact span and kind",
        "kinds": table,
        "errors": [{"type": t, "kind": i[0], "start": i[1], "end": i[2], "text": s}
                   for t, i, s in errors],
    }
    SCORES.parent.mkdir(parents=True, exist_ok=True)
    SCORES.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = [f"\nPII corpus: {len(rows)} sentences ({dict(langs)}), exact-span matching",
             f"{'kind':<16}{'support':>8}{'tp':>6}{'fp':>6}{'fn':>6}{'precision':>11}"
             f"{'recall':>9}"]
    for k, s in table.items():
        lines.append(f"{k:<16}{s['support']:>8}{s['tp']:>6}{s['fp']:>6}{s['fn']:>6}"
                     f"{s['precision']:>11.3f}{s['recall']:>9.3f}")
    for t, item, text in errors:
        lines.append(f"  {t} {item[0]} {text[item[1]:item[2]]!r} in {text!r}")
    print("\n".join(lines))
    return table


def test_recall_is_one_on_the_listed_formats(scores):
    low = {k: scores[k]["recall"] for k in RECALL_ONE if scores[k]["recall"] < 1.0}
    assert not low, low


def test_precision_meets_the_goal_for_every_kind(scores):
    low = {k: s["precision"] for k, s in scores.items() if s["precision"] < MIN_PRECISION}
    assert not low, low


def test_every_kind_is_exercised(scores):
    assert all(s["support"] >= 8 for s in scores.values()), scores
