"""The ArtifactStore contract, run against both adapters: the local folder and GCS (the real
google-cloud-storage client against the gcp-storage-emulator), plus factory selection.

Where the emulator cannot show a GCS behaviour (it ignores ifGenerationMatch), only the
assertion that needs it is skipped, naming the gap; see tests/support/gcs_emulator.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import google_crc32c
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from harness.artifacts import ArtifactExists, ArtifactNotFound, FolderArtifactStore
from harness.artifacts.factory import artifact_store_from_settings, store_for_uri
from harness.artifacts.gcs import GcsArtifactStore
from harness.config import Settings
from tests.support.gcs_emulator import (
    GENERATION_MATCH_GAP,
    PROJECT,
    GcsEmulator,
    honours_if_generation_match,
)

MB = 1024 * 1024


# ---- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def gcs_emulator():
    with GcsEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def emulator_honours_generation_match(gcs_emulator) -> bool:
    return honours_if_generation_match(gcs_emulator.client(), gcs_emulator.create_bucket())


@pytest.fixture
def gcs_bucket(gcs_emulator, monkeypatch) -> str:
    """A fresh bucket, with STORAGE_EMULATOR_HOST pointing the client at the emulator."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    return gcs_emulator.create_bucket()


def emulator_client() -> storage.Client:
    """What a process would build: the real client, anonymous, STORAGE_EMULATOR_HOST set."""
    return storage.Client(project=PROJECT, credentials=AnonymousCredentials())


@dataclass
class Adapter:
    kind: str
    make: Callable[[], object]  # a new, independent store over the same location
    # A stable identity of the stored object (GCS generation, or inode + mtime), or None.
    identity: Callable[[str], object]
    supports_create_only: bool  # does the backend here refuse a second creator?


def _file_identity(uri: str):
    stat = Path(unquote(urlsplit(uri).path)).stat()
    return (stat.st_ino, stat.st_mtime_ns)


@pytest.fixture(params=["folder", "gcs"])
def adapter(request, tmp_path) -> Adapter:
    if request.param == "folder":
        root = tmp_path / "artifacts"
        return Adapter("folder", lambda: FolderArtifactStore(root), _file_identity, True)
    bucket = request.getfixturevalue("gcs_bucket")
    honoured = request.getfixturevalue("emulator_honours_generation_match")

    def generation(uri: str):
        name = uri.removeprefix(f"gs://{bucket}/")
        blob = emulator_client().bucket(bucket).get_blob(name)
        return blob.generation

    return Adapter("gcs", lambda: GcsArtifactStore(bucket, "arts", emulator_client()),
                   generation, honoured)


@pytest.fixture
def store(adapter):
    return adapter.make()


def need_create_only(adapter: Adapter) -> None:
    if not adapter.supports_create_only:
        pytest.skip(GENERATION_MATCH_GAP)


# ---- the contract, for both adapters ---------------------------------------------------------
@pytest.mark.parametrize("size", [0, 256, 5 * MB, 9 * MB], ids=["empty", "bytes", "5MB", "9MB"])
async def test_round_trip_binary(store, adapter, size):
    data = bytes(range(256)) if size == 256 else os.urandom(size)
    uri = await store.put(f"blobs/{size}.bin", data)
    assert uri.startswith("file://" if adapter.kind == "folder" else "gs://")
    assert await store.exists(uri)
    assert await store.get(uri) == data
    # another process (a fresh store) reads the same URI
    assert await adapter.make().get(uri) == data


async def test_same_bytes_twice_is_one_object(store, adapter):
    data = b'{"cases": 3}'
    first = await store.put("snapshots/a.json", data, "application/json")
    before = adapter.identity(first)
    second = await adapter.make().put("snapshots/a.json", data, "application/json")
    assert second == first
    assert await store.get(first) == data
    need_create_only(adapter)  # on the emulator the second upload overwrote the object
    assert adapter.identity(first) == before, "a repeated put rewrote the object"


async def test_different_bytes_under_a_taken_name(store, adapter):
    uri = await store.put("snapshots/b.json", b"original")
    need_create_only(adapter)  # the emulator would overwrite instead of refusing
    with pytest.raises(ArtifactExists):
        await adapter.make().put("snapshots/b.json", b"tampered")
    assert await store.get(uri) == b"original"


async def test_concurrent_creators_of_the_same_bytes(adapter):
    data = os.urandom(64 * 1024)
    stores = [adapter.make() for _ in range(8)]
    uris = await asyncio.gather(*(s.put("race/same.bin", data) for s in stores))
    assert len(set(uris)) == 1
    assert await stores[0].get(uris[0]) == data


async def test_concurrent_creators_of_different_bytes(adapter):
    need_create_only(adapter)
    payloads = [b"A" * 1000, b"B" * 1000, b"A" * 1000, b"C" * 1000, b"B" * 1000, b"D" * 1000]
    stores = [adapter.make() for _ in payloads]
    outcomes = await asyncio.gather(
        *(s.put("race/different.bin", p) for s, p in zip(stores, payloads, strict=True)),
        return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, ArtifactExists):
            raise outcome
    winners = [p for p, o in zip(payloads, outcomes, strict=True) if isinstance(o, str)]
    assert winners, "nobody created the artifact"
    stored = await stores[0].get(next(o for o in outcomes if isinstance(o, str)))
    # exactly one content won; every creator of that content got the URI, all others lost
    assert set(winners) == {stored}
    assert len(winners) == payloads.count(stored)
    assert sum(isinstance(o, ArtifactExists) for o in outcomes) == len(payloads) - len(winners)


async def test_not_found(store, adapter):
    uri = await store.put("present.txt", b"x")
    missing = uri.replace("present.txt", "absent.txt")
    assert not await store.exists(missing)
    with pytest.raises(ArtifactNotFound):
        await store.get(missing)
    with pytest.raises(KeyError):  # ArtifactNotFound is a KeyError, for callers that care
        await store.get(missing)


@pytest.mark.parametrize("name", ["../escape", "/abs/olute", ""])
async def test_names_that_leave_the_store_are_refused(store, name):
    with pytest.raises(ValueError):
        await store.put(name, b"x")


async def test_uri_of_another_scheme_is_refused(store, adapter):
    other = "gs://bucket/x" if adapter.kind == "folder" else "file:///tmp/x"
    with pytest.raises(ValueError):
        await store.get(other)


# ---- GCS specifics ---------------------------------------------------------------------------
async def test_gcs_object_metadata_and_checksums(gcs_bucket):
    store = GcsArtifactStore(gcs_bucket, client=emulator_client())
    data = os.urandom(300_000)
    uri = await store.put("docs/report.pdf", data, "application/pdf")
    assert uri == f"gs://{gcs_bucket}/docs/report.pdf"
    blob = emulator_client().bucket(gcs_bucket).get_blob("docs/report.pdf")
    assert blob.content_type == "application/pdf"
    assert blob.size == len(data)
    assert blob.md5_hash == base64.b64encode(hashlib.md5(data).digest()).decode()
    crc = google_crc32c.Checksum(data).digest()
    assert blob.crc32c == base64.b64encode(crc).decode()


async def test_gcs_prefix_handling(gcs_bucket):
    client = emulator_client()
    runs = GcsArtifactStore(gcs_bucket, "/runs/2024/", client)
    assert runs.prefix == "runs/2024"
    uri = await runs.put("r1/outputs.jsonl", b"one")
    assert uri == f"gs://{gcs_bucket}/runs/2024/r1/outputs.jsonl"
    assert client.bucket(gcs_bucket).blob("runs/2024/r1/outputs.jsonl").exists()
    # the same name under another prefix is another artifact: no conflict
    other = GcsArtifactStore(gcs_bucket, "datasets", client)
    other_uri = await other.put("r1/outputs.jsonl", b"two")
    assert other_uri == f"gs://{gcs_bucket}/datasets/r1/outputs.jsonl"
    assert await runs.get(uri) == b"one" and await other.get(other_uri) == b"two"
    # a store without a prefix writes at the root and reads any URI of its bucket
    root = GcsArtifactStore(gcs_bucket, client=client)
    assert await root.put("top.txt", b"t") == f"gs://{gcs_bucket}/top.txt"
    assert await root.get(uri) == b"one"
    assert runs.uri("x") == f"gs://{gcs_bucket}/runs/2024/x"


async def test_gcs_refuses_uris_of_another_bucket(gcs_bucket):
    store = GcsArtifactStore(gcs_bucket, client=emulator_client())
    with pytest.raises(ValueError, match="another-bucket"):
        await store.get("gs://another-bucket/x")
    with pytest.raises(ValueError, match="another-bucket"):
        await store.exists("gs://another-bucket/x")
    with pytest.raises(ValueError):
        await store.get(f"gs://{gcs_bucket}/")


def test_gcs_store_rejects_odd_names():
    store = GcsArtifactStore("bucket", client=object())
    for name in ["a//b", "a/./b", "a/../b", "trailing/", "line\nbreak", "x" * 1100]:
        with pytest.raises(ValueError):
            store.uri(name)
    with pytest.raises(ValueError):
        GcsArtifactStore("bucket/with/slash")


# ---- factory -----------------------------------------------------------------------------------
def test_factory_unset_is_the_local_folder(tmp_path):
    store = artifact_store_from_settings(Settings(data_dir=tmp_path, artifacts_uri=None))
    assert isinstance(store, FolderArtifactStore)
    assert store.root == (tmp_path / "artifacts").resolve()


def test_factory_file_uri_is_that_folder(tmp_path):
    store = artifact_store_from_settings(Settings(artifacts_uri=(tmp_path / "shared").as_uri()))
    assert isinstance(store, FolderArtifactStore)
    assert store.root == (tmp_path / "shared").resolve()


@pytest.mark.parametrize("uri", ["s3://bucket/x", "gs://", "bucket/prefix", "file://host/x"])
def test_factory_refuses_other_uris(uri):
    with pytest.raises(ValueError):
        artifact_store_from_settings(Settings(artifacts_uri=uri))


async def test_factory_gs_uri_is_gcs_via_the_emulator(gcs_bucket):
    store = artifact_store_from_settings(
        Settings(artifacts_uri=f"gs://{gcs_bucket}/harness/artifacts/"))
    assert isinstance(store, GcsArtifactStore)
    assert (store.bucket, store.prefix) == (gcs_bucket, "harness/artifacts")
    # no client given: the shared one, built from STORAGE_EMULATOR_HOST alone
    uri = await store.put("snap.json", b"{}", "application/json")
    assert uri == f"gs://{gcs_bucket}/harness/artifacts/snap.json"
    assert await store.get(uri) == b"{}"


async def test_store_for_uri_reads_both_schemes(gcs_bucket, tmp_path):
    folder_uri = await FolderArtifactStore(tmp_path / "a").put("d/x.bin", b"local")
    gcs_uri = await GcsArtifactStore(gcs_bucket, "p", emulator_client()).put("x.bin", b"cloud")
    for uri, data in [(folder_uri, b"local"), (gcs_uri, b"cloud")]:
        reader = store_for_uri(uri)
        assert await reader.exists(uri)
        assert await reader.get(uri) == data
    assert isinstance(store_for_uri(gcs_uri), GcsArtifactStore)
    assert isinstance(store_for_uri(folder_uri), FolderArtifactStore)
    with pytest.raises(ArtifactNotFound):
        await store_for_uri(gcs_uri + ".missing").get(gcs_uri + ".missing")
    with pytest.raises(ValueError):
        store_for_uri("https://example.com/x")
