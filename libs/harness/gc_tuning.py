"""The cyclic garbage collector, tuned for processes that load a large heap once.

Importing LiteLLM, Ragas and a large config creates about half a million long-lived
objects. CPython's collector walks them again and again while they are created (0.5-1 s
of a command's start-up) and afterwards on every full collection (15-25 % of the CPU of
each model call, measured with ``bench/runner.py`` and py-spy). The cure is the one the
``gc.freeze`` documentation gives:

- :func:`defer` when a process starts: no cyclic collection while it loads;
- :func:`settle` once it is warm (LiteLLM imported, config parsed, before forking
  workers): the heap built so far moves to the permanent generation, which collections
  skip (and forked children then share its pages instead of copying them), and the
  collector is on again for everything allocated afterwards.

Reference counting frees acyclic garbage all along; only cycles wait. A process that
never calls :func:`settle` gets its collector back after ``SETTLE_AFTER_S`` anyway, so a
forgotten call costs speed, never unbounded memory.
"""

from __future__ import annotations

import gc
import threading

SETTLE_AFTER_S = 30.0
"""A deferred collector is enabled again at the latest this long after :func:`defer`."""

THRESHOLDS = (10_000, 10, 10)
"""Young-generation threshold after :func:`settle`: a model call allocates thousands of
short-lived objects; collecting every 700 allocations (CPython's default) cost more
than it found."""

_lock = threading.Lock()
_timer: threading.Timer | None = None
_settled = False


def defer() -> None:
    """No cyclic collection until :func:`settle` (or ``SETTLE_AFTER_S`` at the latest)."""
    global _timer
    with _lock:
        if _timer is not None or not gc.isenabled():
            return
        gc.disable()
        _timer = threading.Timer(SETTLE_AFTER_S, settle)
        _timer.daemon = True
        _timer.name = "gc-settle"
        _timer.start()


def settle() -> None:
    """Freeze what is alive now (collections skip it from now on) and collect again.
    Call it when the process has loaded what it keeps; only the first call freezes
    (what a long-lived process allocates later stays collectable), later ones only make
    sure the collector is on."""
    global _timer, _settled
    with _lock:
        if _timer is not None:
            _timer.cancel()
            _timer = None
        if not _settled:
            _settled = True
            gc.freeze()
            gc.set_threshold(*THRESHOLDS)
        gc.enable()
