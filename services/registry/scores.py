"""Scorer metrics as the registry takes them in: names checked and made canonical (the
read side, scores joined to their results and summarized, is ``read/queries/scores.py``)."""

from __future__ import annotations

from harness.scoring import UnknownMetricError, resolve_metric

from .domain.errors import Invalid


def canonical_metrics(names: list[str], field: str) -> list[str]:
    """The canonical names of ``names``, in order, duplicates dropped; an unknown name is a
    422 naming it and its position (``metrics.1``)."""
    out: list[str] = []
    for i, name in enumerate(names):
        try:
            canonical = resolve_metric(name).name
        except UnknownMetricError as exc:
            raise Invalid(f"{field}.{i}: {exc}", field=f"{field}.{i}", metric=name) from exc
        if canonical not in out:
            out.append(canonical)
    return out
