"""Artifacts in a Google Cloud Storage bucket; URIs are ``gs://bucket/prefix/name``.

Writes are create-only: every upload carries the precondition ``ifGenerationMatch=0``
("only if no live object has this name"), so GCS itself refuses to overwrite an artifact,
even when two processes race for the same name. When the precondition fails (HTTP 412) the
existing object is read back: the same bytes mean the artifact is already there (a
re-run, a redelivered message, or a retry whose first attempt succeeded but whose answer
was lost) and its URI is returned; other bytes raise ``ArtifactExists``.

Because the precondition makes a repeated upload harmless, uploads use the client's
conditional retry (``DEFAULT_RETRY_IF_GENERATION_SPECIFIED``): transient errors (429,
5xx, dropped connections) are retried with backoff. Reads use the client's default retry.
The client checks integrity itself: uploads send a CRC32C (MD5 without the C extension)
that the server verifies, downloads are checked against the object's ``X-Goog-Hash``.

The ``google-cloud-storage`` client is blocking; every call runs in ``asyncio.to_thread``.
With no client given, one client per (project, ``STORAGE_EMULATOR_HOST``) is created on
first use and shared by all stores in the process: it uses Application Default Credentials
on GCP, and anonymous credentials when ``STORAGE_EMULATOR_HOST`` points at an emulator.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from google.api_core.exceptions import NotFound, PreconditionFailed

from .port import ArtifactExists, ArtifactNotFound

SCHEME = "gs://"
_MAX_OBJECT_NAME_BYTES = 1024  # a GCS limit
# A 412 followed by a 404 means the object was deleted between the two calls; try the
# create again, a few times, rather than report a state that no longer exists.
_CREATE_ATTEMPTS = 3


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/some/object`` -> ``("bucket", "some/object")`` (the path may be empty).

    Object names are taken verbatim (gsutil style, no percent-decoding)."""
    if not isinstance(uri, str) or not uri.startswith(SCHEME):
        raise ValueError(f"not a GCS URI (expected gs://bucket/...): {uri!r}")
    bucket, _, path = uri[len(SCHEME):].partition("/")
    if not bucket:
        raise ValueError(f"GCS URI without a bucket: {uri!r}")
    return bucket, path


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError("artifact name must be a non-empty string")
    if name.startswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError(f"artifact name {name!r} has an empty, '.' or '..' path segment "
                         "(or escapes the store)")
    if "\r" in name or "\n" in name:
        raise ValueError(f"artifact name {name!r} contains a line break")


_clients: dict[tuple[str | None, str | None], Any] = {}
_clients_lock = threading.Lock()


def shared_client(project: str | None = None) -> Any:
    """The process-wide ``storage.Client`` for ``project`` and the current emulator host."""
    key = (project, os.environ.get("STORAGE_EMULATOR_HOST"))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            from google.cloud import storage

            client = _clients[key] = storage.Client(project=project)
        return client


class GcsArtifactStore:
    """Create-only artifacts under ``gs://bucket/prefix/``."""

    def __init__(self, bucket: str, prefix: str = "", client: Any | None = None, *,
                 project: str | None = None) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"invalid bucket name {bucket!r}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            _check_name(self.prefix)
        self.project = project
        self._client = client

    def __repr__(self) -> str:
        return f"GcsArtifactStore({self.base_uri!r})"

    @property
    def base_uri(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix + '/' if self.prefix else ''}"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = shared_client(self.project)
        return self._client

    # ---- names and URIs ------------------------------------------------------------------
    def object_name(self, name: str) -> str:
        _check_name(name)
        object_name = f"{self.prefix}/{name}" if self.prefix else name
        if len(object_name.encode()) > _MAX_OBJECT_NAME_BYTES:
            raise ValueError(f"artifact name {name!r} is longer than GCS allows")
        return object_name

    def uri(self, name: str) -> str:
        return f"{SCHEME}{self.bucket}/{self.object_name(name)}"

    def _object_from_uri(self, uri: str) -> str:
        bucket, object_name = parse_gs_uri(uri)
        if bucket != self.bucket:
            raise ValueError(
                f"{uri} is in bucket {bucket!r} but this store reads bucket {self.bucket!r}; "
                "use harness.artifacts.factory.store_for_uri(uri) for a store that can")
        if not object_name:
            raise ValueError(f"GCS URI without an object name: {uri!r}")
        return object_name

    def _blob(self, object_name: str) -> Any:
        return self.client.bucket(self.bucket).blob(object_name)

    # ---- blocking work (runs in a thread) ------------------------------------------------
    def _put_sync(self, name: str, data: bytes, content_type: str) -> str:
        from google.cloud.storage.retry import DEFAULT_RETRY_IF_GENERATION_SPECIFIED

        object_name = self.object_name(name)
        uri = f"{SCHEME}{self.bucket}/{object_name}"
        for _ in range(_CREATE_ATTEMPTS):
            try:
                self._blob(object_name).upload_from_string(
                    data, content_type=content_type, if_generation_match=0,
                    checksum="auto", retry=DEFAULT_RETRY_IF_GENERATION_SPECIFIED)
                return uri
            except PreconditionFailed:
                pass  # the name is taken: by these bytes, or by others?
            try:
                existing = self._blob(object_name).download_as_bytes()
            except NotFound:
                continue  # deleted since the 412: try to create it again
            if existing == data:
                return uri
            raise ArtifactExists(uri)
        raise ArtifactExists(f"{uri} (kept changing while it was being created)")

    def _get_sync(self, uri: str) -> bytes:
        object_name = self._object_from_uri(uri)
        try:
            return self._blob(object_name).download_as_bytes()
        except NotFound as exc:
            raise ArtifactNotFound(uri) from exc

    def _exists_sync(self, uri: str) -> bool:
        return bool(self._blob(self._object_from_uri(uri)).exists())

    # ---- the ArtifactStore port ------------------------------------------------------------
    async def put(self, name: str, data: bytes, content_type: str = "application/octet-stream"
                  ) -> str:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"artifact data must be bytes, not {type(data).__name__}")
        return await asyncio.to_thread(self._put_sync, name, bytes(data), content_type)

    async def get(self, uri: str) -> bytes:
        self._object_from_uri(uri)  # a bad URI fails here, not in a thread
        return await asyncio.to_thread(self._get_sync, uri)

    async def exists(self, uri: str) -> bool:
        self._object_from_uri(uri)
        return await asyncio.to_thread(self._exists_sync, uri)
