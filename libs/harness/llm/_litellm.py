"""The one place that imports LiteLLM, offline-safe and lazily.

LiteLLM fetches its model cost map (and a few other catalogs) from the internet at
import time unless told not to; on a machine without internet that costs seconds of
retries per process. We default both switches before the first import. Importing
LiteLLM itself takes seconds, so it happens on first use, not when ``harness.llm`` is
imported.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

from harness import gc_tuning

# Use the cost map bundled with the installed LiteLLM; never fetch one at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# LiteLLM's global offline switch: bundled catalogs (beta headers, tokenizers, ...) only.
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

_lock = threading.Lock()
_module: ModuleType | None = None
_warm = False


def is_warm() -> bool:
    return _warm


def warm() -> None:
    """Import LiteLLM and run one mocked completion (no network), so the first real
    call does not pay for LiteLLM's lazy imports (~0.5 s). Blocking: run in a thread.

    The process is warm then: its long-lived heap is frozen out of the garbage
    collector's way (:func:`harness.gc_tuning.settle`)."""
    global _warm
    module = litellm()
    if _warm:
        return
    with _lock:
        if _warm:
            return
        try:
            module.completion(
                model="openai/gpt-4o-mini",
                messages=[{"role": "user", "content": "warm-up"}],
                mock_response="ok",
                api_key="not-used",
            )
        except Exception:  # noqa: BLE001 - an optimisation only
            pass
        _warm = True
    gc_tuning.settle()


def litellm() -> ModuleType:
    """The configured ``litellm`` module (imported on first call)."""
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                import litellm as module

                module.num_retries = 0  # retries and fallbacks are ours (harness.llm.client)
                module.suppress_debug_info = True  # no "Give Feedback / Provider List" banners
                module.telemetry = False
                _module = module
    return _module
