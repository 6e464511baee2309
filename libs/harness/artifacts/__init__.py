"""Artifacts (dataset snapshots, documents, full outputs): a port and its adapters."""

from .folder import FolderArtifactStore
from .port import ArtifactExists, ArtifactNotFound, ArtifactStore

__all__ = ["ArtifactExists", "ArtifactNotFound", "ArtifactStore", "FolderArtifactStore"]
