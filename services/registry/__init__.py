"""The registry service: the only writer of the event store."""

from . import projections_evaluation  # noqa: F401  (registers the evaluation read models)
