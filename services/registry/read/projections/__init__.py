"""The registry's read models (projections), updated in the append's transaction.

``apply`` is the only code that writes read-model tables; ``rebuild`` truncates them and
replays every event through ``apply``. The projections and their order are listed once,
in :mod:`.catalog`.
"""

from .catalog import PROJECTIONS, apply, read_model_tables
from .prompts import version_id
from .rebuild import rebuild

__all__ = ["PROJECTIONS", "apply", "read_model_tables", "rebuild", "version_id"]
