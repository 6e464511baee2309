"""Artifacts in a local folder (the default, ``.harness/artifacts``); URIs are ``file://``."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .port import ArtifactExists, ArtifactNotFound


class FolderArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root not in path.parents:
            raise ValueError(f"artifact name {name!r} escapes the store")
        return path

    def uri(self, name: str) -> str:
        return self._path(name).as_uri()

    def _from_uri(self, uri: str) -> Path:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            raise ValueError(f"not a local artifact URI: {uri}")
        return Path(unquote(parts.path))

    def _put_sync(self, name: str, data: bytes) -> str:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # atomic create-only: fails if the name exists
            except FileExistsError:
                if path.read_bytes() != data:
                    raise ArtifactExists(name) from None
        finally:
            os.unlink(tmp)
        return path.as_uri()

    async def put(self, name: str, data: bytes, content_type: str = "application/octet-stream"
                  ) -> str:
        return await asyncio.to_thread(self._put_sync, name, data)

    async def get(self, uri: str) -> bytes:
        path = self._from_uri(uri)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise ArtifactNotFound(uri) from exc

    async def exists(self, uri: str) -> bool:
        return self._from_uri(uri).exists()
