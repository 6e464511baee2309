"""A GCS emulator for tests: PyPI ``gcp-storage-emulator``, in-process, on a free port.

The real ``google-cloud-storage`` client talks to it over HTTP when
``STORAGE_EMULATOR_HOST`` is set (the client then uses anonymous credentials).

Known gap, probed rather than assumed (``honours_if_generation_match``): the emulator
ignores the ``ifGenerationMatch`` precondition, so an upload with ``ifGenerationMatch=0``
silently overwrites an existing object instead of failing with 412. Tests that depend on
GCS refusing the second writer skip that assertion with ``GENERATION_MATCH_GAP`` as the
reason; the adapter's 412 handling is covered by tests/integration/
test_artifacts_gcs_preconditions.py.
"""

from __future__ import annotations

import logging
import uuid
from importlib.metadata import version

from harness.net import free_port

PROJECT = "harness-test"
HOST = "127.0.0.1"

GENERATION_MATCH_GAP = (
    f"gcp-storage-emulator {version('gcp-storage-emulator')} ignores the ifGenerationMatch=0 "
    "upload precondition (no 412; it overwrites), so create-only conflicts cannot be "
    "observed here; see test_artifacts_gcs_preconditions.py")


class GcsEmulator:
    """Start with ``start()`` (or as a context manager); ``endpoint`` is what
    ``STORAGE_EMULATOR_HOST`` should be set to."""

    def __init__(self, host: str = HOST, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> GcsEmulator:
        from gcp_storage_emulator.server import create_server

        # it logs every request and every 404 at INFO/ERROR; keep test output readable
        logging.getLogger("gcp_storage_emulator").setLevel(logging.CRITICAL)
        self._server = create_server(self.host, self.port, in_memory=True)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> GcsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self):
        """A real ``storage.Client`` bound to this emulator (anonymous, fixed project)."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                              client_options=ClientOptions(api_endpoint=self.endpoint))

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"harness-t-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(name)
        return name


def honours_if_generation_match(client, bucket: str) -> bool:
    """Does the server refuse a create-only (``ifGenerationMatch=0``) upload over an
    existing object, as GCS does?"""
    from google.api_core.exceptions import PreconditionFailed

    blob = client.bucket(bucket).blob(f"probe/{uuid.uuid4().hex}")
    blob.upload_from_string(b"first", if_generation_match=0)
    try:
        blob.upload_from_string(b"second", if_generation_match=0)
    except PreconditionFailed:
        return True
    return False
