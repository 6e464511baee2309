"""Online evaluation (pure): which stored traces an evaluator scores, and the id of the
score it records.

An evaluator looks at the traces its ``traffic`` selects (every field given must match)
and, of those, at a deterministic sample: a trace is sampled when the first 8 bytes of
sha256(evaluator id + trace id), read as a number below 2^64, fall below
``rate`` × 2^64. The same evaluator and trace always give the same answer, so a restart or
a second scorer instance picks the same traces; different evaluators sample independently.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

TRAFFIC_FIELDS = ("application", "prompt_id", "model", "key", "source")
_SCORE_NS = uuid.UUID("5d0c3f5e-8f1a-4c47-9b2e-1d7a4e6b90c3")


def sampled(evaluator_id: str, trace_id: str | uuid.UUID, rate: float) -> bool:
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.sha256(f"{evaluator_id}:{trace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * 2**64


def matches(traffic: Mapping[str, str], trace: Mapping[str, Any]) -> bool:
    """``trace`` is a stored trace's row (``application``, ``prompt_id``,
    ``model_requested``, ``model_answered``, ``key_id``, ``key_name``, ``source``)."""
    for name, wanted in traffic.items():
        if name == "model":
            found = {trace.get("model_requested"), trace.get("model_answered")}
        elif name == "key":
            found = {trace.get("key_name"), str(trace.get("key_id") or "")}
        else:
            found = {trace.get(name)}
        if wanted not in found:
            return False
    return True


def score_event_id(evaluator_id: str, trace_id: str | uuid.UUID) -> uuid.UUID:
    """The id of the ``TraceScored`` an evaluator records for a trace: one per pair, so a
    redelivered or re-read trace is never scored twice."""
    return uuid.uuid5(_SCORE_NS, f"{evaluator_id}:{trace_id}")


def sample_event_id(evaluator_id: str, trace_id: str | uuid.UUID) -> uuid.UUID:
    """The id of the ``TraceSampled`` that hands a trace to the scorer for an evaluator:
    one per pair, so a sampler that reads a trace again records nothing new."""
    return uuid.uuid5(_SCORE_NS, f"sampled:{evaluator_id}:{trace_id}")


def selects(evaluator_id: str, traffic: Mapping[str, str], rate: float,
            trace: Mapping[str, Any]) -> bool:
    """The evaluator looks at ``trace`` (its traffic matches) and samples it."""
    return matches(traffic, trace) and sampled(evaluator_id, trace["id"], rate)


def evaluator_actor(evaluator_id: str) -> str:
    """Who an evaluator's scores are by (the event's actor)."""
    return f"evaluator:{evaluator_id}"
