"""harness.gc_tuning: the collector is off while a process loads, frozen-and-on after."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    """In a fresh interpreter: the collector's state is per process."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True,
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT / "libs")})
    return out.stdout.strip()


def test_defer_then_settle_freezes_the_loaded_heap_once_and_enables_collection():
    out = _run("""
        import gc
        from harness import gc_tuning
        gc_tuning.defer()
        print(gc.isenabled())
        kept = [[i] for i in range(1000)]  # what a process loads and keeps
        gc_tuning.settle()
        frozen = gc.get_freeze_count()
        print(gc.isenabled(), frozen >= 1000, gc.get_threshold() == gc_tuning.THRESHOLDS)
        later = [[i] for i in range(1000)]
        gc_tuning.settle()  # again: the collector stays on, nothing more is frozen
        print(gc.isenabled(), gc.get_freeze_count() == frozen)
    """)
    assert out.splitlines() == ["False", "True True True", "True True"]


def test_a_process_that_never_settles_gets_its_collector_back():
    out = _run("""
        import gc, time
        from harness import gc_tuning
        gc_tuning.SETTLE_AFTER_S = 0.05
        gc_tuning.defer()
        deadline = time.monotonic() + 60
        while not gc.isenabled() and time.monotonic() < deadline:
            time.sleep(0.01)
        print(gc.isenabled())
    """)
    assert out == "True"


def test_settle_without_defer_and_defer_after_settle_keep_the_collector_on():
    out = _run("""
        import gc
        from harness import gc_tuning
        gc_tuning.settle()
        gc.disable(); gc.enable()
        gc_tuning.settle()
        print(gc.isenabled())
    """)
    assert out == "True"


def test_warming_litellm_settles_the_process():
    out = _run("""
        import gc
        from harness import gc_tuning
        from harness.llm import _litellm
        gc_tuning.defer()
        _litellm.warm()
        print(gc.isenabled(), gc.get_freeze_count() > 100_000)
    """)
    assert out == "True True"
