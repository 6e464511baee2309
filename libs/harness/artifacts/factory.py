"""Pick the artifact adapter from configuration, or from a URI a worker was handed.

``HARNESS_ARTIFACTS_URI`` decides where this process writes:

- unset: the local folder ``data_dir/artifacts`` (``file://`` URIs);
- ``gs://bucket[/prefix]``: a GCS bucket (``GOOGLE_CLOUD_PROJECT`` names the project;
  ``STORAGE_EMULATOR_HOST`` points the client at an emulator);
- ``file:///absolute/folder``: another local folder (e.g. one shared by local processes).

A worker reads whatever URI a message points to with ``store_for_uri(uri)``, whichever
adapter wrote it. The GCS adapter (and its client library) is imported only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .folder import FolderArtifactStore
from .port import ArtifactStore

if TYPE_CHECKING:
    from harness.config import Settings


def _folder_from_file_uri(uri: str, *, parent: bool) -> FolderArtifactStore:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"file URI on another host: {uri!r}")
    path = Path(unquote(parts.path))
    if not path.is_absolute() or parts.path in ("", "/"):
        raise ValueError(f"file URI needs an absolute path: {uri!r}")
    return FolderArtifactStore(path.parent if parent else path)


def artifact_store_from_settings(settings: Settings | None = None) -> ArtifactStore:
    """The store this process writes artifacts to."""
    if settings is None:
        from harness.config import get_settings

        settings = get_settings()
    uri = (settings.artifacts_uri or "").strip()
    if not uri:
        return FolderArtifactStore(settings.artifacts_dir)
    if uri.startswith("gs://"):
        from .gcs import GcsArtifactStore, parse_gs_uri

        bucket, prefix = parse_gs_uri(uri)
        return GcsArtifactStore(bucket, prefix, project=settings.gcp_project)
    if uri.startswith("file:"):
        return _folder_from_file_uri(uri, parent=False)
    raise ValueError(f"HARNESS_ARTIFACTS_URI must be gs://bucket[/prefix], file:///folder "
                     f"or unset, not {uri!r}")


def store_for_uri(uri: str, *, project: str | None = None) -> ArtifactStore:
    """A store that can ``get``/``exists`` the artifact at ``uri`` (``file://`` or ``gs://``).

    GCS stores share one client per process, so calling this per message is cheap."""
    if uri.startswith("gs://"):
        from .gcs import GcsArtifactStore, parse_gs_uri

        bucket, _ = parse_gs_uri(uri)
        if project is None:
            from harness.config import get_settings

            project = get_settings().gcp_project
        return GcsArtifactStore(bucket, project=project)
    if uri.startswith("file:"):
        return _folder_from_file_uri(uri, parent=True)
    raise ValueError(f"no artifact store reads {uri!r} (expected file:// or gs://)")
