"""The base of every request body: a field the API does not know is refused, never
silently dropped.

A typo (``change_not``) or a field in the wrong place (``tools`` on a prompt rather
than in its version's ``config``) used to be accepted and thrown away, so the caller
believed it was stored. With ``extra="forbid"`` such a request is a 422 whose
``errors[].field`` names the unknown field, and the OpenAPI schema of each body says
``additionalProperties: false``. Response models do not derive from it (a newer server
may add fields).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

UNKNOWN_FIELD = "unknown field: this request has no such field (nothing was stored)"
"""The message of a validation error for a field no request body declares."""


class RequestBody(BaseModel):
    """A JSON or form request body that refuses unknown fields (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    #: unknown top-level fields a caller is known to put here by mistake, and where they
    #: belong (``{"tools": "config.tools"}``): the 422 says so
    misplaced_fields: ClassVar[dict[str, str]] = {}
