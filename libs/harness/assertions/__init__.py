"""A promptfoo-compatible assertion engine (pure: no I/O of its own).

``evaluate_assertions`` grades one output against a test's assertions with promptfoo's
rules (``not-`` prefix, weights, test threshold, named metrics, templated values);
model-backed checks call the ``embed`` / ``judge`` callables given in the context.
"""

from .defaults import merge_default_test
from .engine import SUPPORTED_TYPES, evaluate_assertion, evaluate_assertions, parse_assertions
from .models import (
    Assertion,
    AssertionContext,
    AssertionResult,
    Embedder,
    GradingResult,
    Judge,
)

__all__ = [
    "SUPPORTED_TYPES",
    "Assertion",
    "AssertionContext",
    "AssertionResult",
    "Embedder",
    "GradingResult",
    "Judge",
    "evaluate_assertion",
    "evaluate_assertions",
    "merge_default_test",
    "parse_assertions",
]
