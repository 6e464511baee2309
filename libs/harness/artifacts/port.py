"""The ArtifactStore port: create-only blobs named by the caller (content-addressed)."""

from __future__ import annotations

from typing import Protocol


class ArtifactExists(Exception):
    """A create-only write found the name taken (with other content)."""


class ArtifactNotFound(KeyError):
    pass


class ArtifactStore(Protocol):
    async def put(self, name: str, data: bytes, content_type: str = "application/octet-stream"
                  ) -> str:
        """Create ``name`` once and return its URI. Writing the same bytes again returns the
        same URI; different bytes under a taken name raise ``ArtifactExists``."""

    async def get(self, uri: str) -> bytes: ...

    async def exists(self, uri: str) -> bool: ...
