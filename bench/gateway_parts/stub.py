"""The stub provider as a process of its own: prints its base URL, serves until its stdin
closes (the benchmark's parent process holds the other end)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.stub_llm import StubLLM  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=float, default=20)
    args = ap.parse_args()
    with StubLLM(latency_s=args.latency_ms / 1000) as stub:
        print(stub.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
