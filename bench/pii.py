"""PII benchmark: detect + mask throughput over the labelled corpus.

Prints one JSON document. The corpus (``tests/fixtures/pii/corpus.jsonl``) is repeated
``--repeat`` times (default 50) and every sentence goes through ``detect`` and then
``mask`` (label style), as the gateway does per message. The baseline, measured in the same
run over the same sentences, is the raw scan: every compiled pattern's ``finditer`` with no
validation, context checks, overlap resolution or masking. ``ratio`` = pipeline
sentences/s ÷ baseline sentences/s (how much of the raw regex speed the full pipeline keeps).
``mask_*`` rows time ``mask`` alone for each style.

Usage: python bench/pii.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "libs"))

from harness.pii import detect, mask  # noqa: E402
from harness.pii import patterns as P  # noqa: E402

CORPUS = ROOT / "tests" / "fixtures" / "pii" / "corpus.jsonl"
RAW = (P.PHONE, P.EMAIL, P.RRN, P.CARD, P.ACCOUNT, P.IPV4, P.IPV6, P.PASSPORT,
       P.DRIVER_LICENSE)


def pipeline(texts: list[str]) -> int:
    n = 0
    for t in texts:
        detect(t)
        n += len(mask(t).findings)
    return n


def raw_scan(texts: list[str]) -> int:
    n = 0
    for t in texts:
        for pat in RAW:
            for _ in pat.finditer(t):
                n += 1
    return n


def timed(fn, texts: list[str], rounds: int = 3) -> tuple[float, int]:
    best, out = float("inf"), 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn(texts)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    base = [json.loads(line)["text"] for line in CORPUS.read_text("utf-8").splitlines()
            if line.strip()]
    texts = base * args.repeat
    chars = sum(len(t) for t in texts)

    pipeline(base)  # warm up (regex caches, imports)
    seconds, findings = timed(pipeline, texts)
    raw_seconds, raw_hits = timed(raw_scan, texts)

    per_sentence = []
    for t in base * 5:
        t0 = time.perf_counter()
        detect(t)
        mask(t)
        per_sentence.append((time.perf_counter() - t0) * 1e6)
    per_sentence.sort()

    styles = {}
    for style in ("label", "hash", "partial"):
        s, _ = timed(lambda ts, st=style: [mask(t, style=st) for t in ts], texts, rounds=1)
        styles[f"mask_{style}_sentences_per_s"] = round(len(texts) / s)

    print(json.dumps({
        "benchmark": "pii detect+mask",
        "python": platform.python_version(),
        "corpus_sentences": len(base),
        "repeat": args.repeat,
        "sentences": len(texts),
        "chars": chars,
        "findings_per_pass": findings,
        "seconds": round(seconds, 4),
        "sentences_per_s": round(len(texts) / seconds),
        "chars_per_s": round(chars / seconds),
        "p50_us_per_sentence": round(statistics.median(per_sentence), 1),
        "p99_us_per_sentence": round(per_sentence[int(len(per_sentence) * 0.99) - 1], 1),
        "baseline": "raw finditer of every pattern, no validation/overlaps/masking",
        "baseline_sentences_per_s": round(len(texts) / raw_seconds),
        "baseline_candidates": raw_hits,
        "ratio": round(raw_seconds / seconds, 3),
        **styles,
    }, indent=2))


if __name__ == "__main__":
    main()
