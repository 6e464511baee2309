"""The registry service: the only writer of the event store."""

# the read models register their projectors; generation's runs after evaluation's (it
# marks the cases the dataset projector inserts)
from . import projections_evaluation, projections_generation  # noqa: F401
