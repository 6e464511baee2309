"""Artifacts (dataset snapshots, documents, full outputs): a port and its adapters."""

from .factory import artifact_store_from_settings, store_for_uri
from .folder import FolderArtifactStore
from .port import ArtifactExists, ArtifactNotFound, ArtifactStore

__all__ = ["ArtifactExists", "ArtifactNotFound", "ArtifactStore", "FolderArtifactStore",
           "artifact_store_from_settings", "store_for_uri"]
