"""The GCS adapter's create-only handling, where the emulator cannot show it.

gcp-storage-emulator ignores ``ifGenerationMatch`` (see tests/support/gcs_emulator.py), so
the 412 path is covered here twice over:

1. unit level: the adapter against a fake bucket (GCS is outside the machine) that enforces
   ``if_generation_match=0`` atomically and raises the real ``google.api_core`` exceptions,
   including the races around a 412;
2. wire level: the real ``google-cloud-storage`` client against a tiny HTTP server that
   answers as GCS does when the name is taken (a 412 JSON error) and serves the existing
   object with its ``x-goog-hash``, for the multipart (small) and resumable (large) upload
   paths, and a corrupted download to show the client's checksum check.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import google_crc32c
import pytest
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import Forbidden, NotFound, PreconditionFailed
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage.exceptions import DataCorruption
from google.cloud.storage.retry import DEFAULT_RETRY_IF_GENERATION_SPECIFIED

from harness.artifacts import ArtifactExists, ArtifactNotFound
from harness.artifacts.gcs import GcsArtifactStore
from harness.net import free_port


# ---- 1. unit level: a fake bucket that honours the precondition -----------------------------
class FakeGcs:
    """``client.bucket(b).blob(n)`` with upload/download/exists, create-only enforced under a
    lock like GCS does; ``before_download`` lets a test interleave another writer."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, int, str]] = {}  # name -> data, generation, type
        self.uploads: list[dict] = []
        self.lock = threading.Lock()
        self.generations = 0
        self.before_download = None
        self.download_error: Exception | None = None

    def bucket(self, name: str) -> FakeGcs._Bucket:
        return FakeGcs._Bucket(self, name)

    class _Bucket:
        def __init__(self, fake: FakeGcs, name: str) -> None:
            self.fake, self.name = fake, name

        def blob(self, object_name: str) -> FakeGcs._Blob:
            return FakeGcs._Blob(self.fake, f"{self.name}/{object_name}")

    class _Blob:
        def __init__(self, fake: FakeGcs, key: str) -> None:
            self.fake, self.key = fake, key

        def upload_from_string(self, data, content_type, if_generation_match=None, **kwargs):
            fake = self.fake
            with fake.lock:
                fake.uploads.append({"key": self.key, "content_type": content_type,
                                     "if_generation_match": if_generation_match, **kwargs})
                if if_generation_match == 0 and self.key in fake.objects:
                    raise PreconditionFailed("At least one of the pre-conditions you "
                                             "specified did not hold.")
                fake.generations += 1
                fake.objects[self.key] = (bytes(data), fake.generations, content_type)

        def download_as_bytes(self, **kwargs):
            fake = self.fake
            if fake.before_download is not None:
                fake.before_download(self.key)
            if fake.download_error is not None:
                raise fake.download_error
            with fake.lock:
                if self.key not in fake.objects:
                    raise NotFound(f"No such object: {self.key}")
                return fake.objects[self.key][0]

        def exists(self, **kwargs):
            with self.fake.lock:
                return self.key in self.fake.objects


async def test_upload_is_create_only_typed_checksummed_and_retried():
    fake = FakeGcs()
    uri = await GcsArtifactStore("b", "p", fake).put("n.json", b"{}", "application/json")
    assert uri == "gs://b/p/n.json"
    [call] = fake.uploads
    assert call["key"] == "b/p/n.json"
    assert call["if_generation_match"] == 0
    assert call["content_type"] == "application/json"
    assert call["checksum"] in ("auto", "crc32c", "md5")
    # retrying is safe because the precondition makes a repeated create harmless
    assert call["retry"] is DEFAULT_RETRY_IF_GENERATION_SPECIFIED


async def test_412_with_the_same_bytes_returns_the_uri_and_keeps_the_object():
    fake = FakeGcs()
    store = GcsArtifactStore("b", client=fake)
    uri = await store.put("x", b"same")
    generation = fake.objects["b/x"][1]
    assert await GcsArtifactStore("b", client=fake).put("x", b"same") == uri
    assert fake.objects["b/x"][1] == generation
    assert len(fake.uploads) == 2  # the second was refused by the precondition, not skipped


async def test_412_with_other_bytes_raises_artifact_exists():
    fake = FakeGcs()
    store = GcsArtifactStore("b", client=fake)
    await store.put("x", b"original")
    with pytest.raises(ArtifactExists, match="gs://b/x"):
        await store.put("x", b"other")
    assert fake.objects["b/x"][0] == b"original"


async def test_object_deleted_after_the_412_is_created_again():
    fake = FakeGcs()
    fake.objects["b/x"] = (b"old", 1, "text/plain")

    def delete_once(key: str) -> None:
        fake.before_download = None
        with fake.lock:
            del fake.objects[key]

    fake.before_download = delete_once
    uri = await GcsArtifactStore("b", client=fake).put("x", b"new")
    assert uri == "gs://b/x"
    assert fake.objects["b/x"][0] == b"new"
    assert len(fake.uploads) == 2


async def test_a_name_that_keeps_vanishing_gives_up():
    fake = FakeGcs()
    fake.objects["b/x"] = (b"old", 1, "text/plain")
    fake.download_error = NotFound("gone")  # every 412 is followed by a 404
    with pytest.raises(ArtifactExists, match="kept changing"):
        await GcsArtifactStore("b", client=fake).put("x", b"new")
    assert len(fake.uploads) == 3


async def test_other_errors_are_not_swallowed():
    fake = FakeGcs()
    store = GcsArtifactStore("b", client=fake)
    uri = await store.put("x", b"data")
    fake.download_error = Forbidden("no access")
    with pytest.raises(Forbidden):
        await store.get(uri)
    with pytest.raises(Forbidden):
        await store.put("x", b"data")  # the 412 read-back fails: say so, don't guess
    fake.download_error = None
    with pytest.raises(ArtifactNotFound):
        await store.get("gs://b/missing")


async def test_concurrent_creators_one_winner():
    fake = FakeGcs()
    payloads = [b"A", b"B", b"A", b"C", b"B", b"A"]
    outcomes = await asyncio.gather(
        *(GcsArtifactStore("b", client=fake).put("race", p) for p in payloads),
        return_exceptions=True)
    stored = fake.objects["b/race"][0]
    assert fake.generations == 1
    for payload, outcome in zip(payloads, outcomes, strict=True):
        if payload == stored:
            assert outcome == "gs://b/race"
        else:
            assert isinstance(outcome, ArtifactExists)


# ---- 2. wire level: the real client against GCS-shaped 412 answers ------------------------------
def _hashes(data: bytes) -> str:
    crc = base64.b64encode(google_crc32c.Checksum(data).digest()).decode()
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    return f"crc32c={crc},md5={md5}"


class TakenNameServer:
    """Every object already exists with ``existing`` bytes: uploads with ifGenerationMatch=0
    get GCS's 412 error, downloads get the bytes and their ``x-goog-hash`` (or a wrong one)."""

    def __init__(self, existing: bytes) -> None:
        self.existing = existing
        self.corrupt = False
        self.upload_queries: list[dict[str, list[str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _body(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                self._body()
                query = parse_qs(urlsplit(self.path).query)
                outer.upload_queries.append(query)
                if query.get("ifGenerationMatch") == ["0"]:
                    error = {"error": {"code": 412, "message": "At least one of the "
                             "pre-conditions you specified did not hold.", "errors": [
                                 {"reason": "conditionNotMet", "domain": "global"}]}}
                    self._send(412, json.dumps(error).encode(),
                               {"Content-Type": "application/json"})
                else:
                    self._send(400, b"{}", {"Content-Type": "application/json"})

            def do_GET(self):
                path = unquote(urlsplit(self.path).path)
                if not path.startswith("/download/"):
                    self._send(404, b"{}", {"Content-Type": "application/json"})
                    return
                body = outer.existing
                hashes = _hashes(b"something else" if outer.corrupt else body)
                self._send(200, body, {"Content-Type": "application/octet-stream",
                                       "x-goog-hash": hashes,
                                       "x-goog-generation": "1"})

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TakenNameServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def client(self) -> storage.Client:
        return storage.Client(
            project="p", credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=f"http://127.0.0.1:{self.port}"))


@pytest.mark.parametrize("size", [1000, 9 * 1024 * 1024], ids=["multipart", "resumable"])
async def test_real_client_412_same_bytes_returns_uri(size):
    data = os.urandom(size)
    with TakenNameServer(data) as server:
        store = GcsArtifactStore("bkt", "p", server.client())
        assert await store.put("snap.bin", data) == "gs://bkt/p/snap.bin"
        assert server.upload_queries[0]["ifGenerationMatch"] == ["0"]
        assert server.upload_queries[0]["uploadType"] == [
            "multipart" if size < 8 * 1024 * 1024 else "resumable"]


@pytest.mark.parametrize("size", [1000, 9 * 1024 * 1024], ids=["multipart", "resumable"])
async def test_real_client_412_other_bytes_raises_artifact_exists(size):
    with TakenNameServer(os.urandom(size)) as server:
        store = GcsArtifactStore("bkt", client=server.client())
        with pytest.raises(ArtifactExists):
            await store.put("snap.bin", os.urandom(size))
        assert len(server.upload_queries) == 1  # a 412 is final, not retried


async def test_real_client_checks_download_checksums():
    with TakenNameServer(b"payload") as server:
        store = GcsArtifactStore("bkt", client=server.client())
        assert await store.get("gs://bkt/obj") == b"payload"
        server.corrupt = True
        with pytest.raises(DataCorruption):
            await store.get("gs://bkt/obj")
