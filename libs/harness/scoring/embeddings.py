"""Vectors by text for one embedding model, fetched in batches shared by every caller.

Texts asked for while nothing is being fetched go out together on the next turn of the
event loop; texts asked for while a fetch is in flight wait and go out together in the
next one (group commit), so many cases embedding a text or two each cost a few requests,
not one each. A text already asked for is never fetched twice: later callers wait for
the same fetch. Nothing here imports Ragas.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from harness.llm import LLMClient, LLMError
from harness.llm.client import LOCAL_EMBEDDING_MODELS

from .judge import Usage


class EmbeddingError(Exception):
    """The embedding model could not embed the texts (the cause is chained)."""


@dataclass
class _Waiting:
    """A text queued or being fetched: its vector's future and the usages sharing it."""

    future: asyncio.Future
    usages: list[Usage] = field(default_factory=list)


class EmbeddingCache:
    """Vectors by text for one embedding model (bounded LRU), shared by a scorer's cases.

    Texts not held are fetched through ``LLMClient.embed`` in requests of at most
    ``batch_size`` texts, batched across concurrent callers (see the module). A caller's
    ``usage.embedding_calls`` counts the requests its texts went into (a request shared
    by several cases counts for each of them); ``requests`` counts the requests made."""

    def __init__(
        self, llm: LLMClient, model: str | None, params: dict[str, Any] | None = None,
        max_entries: int = 20_000, batch_size: int = 256,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.llm = llm
        self.model = model
        self.params = dict(params or {})
        self.max_entries = max_entries
        self.batch_size = batch_size
        self.requests = 0
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._waiting: dict[str, _Waiting] = {}  # queued or in flight
        self._queue: list[str] = []  # waiting for the next fetch
        self._fetcher: asyncio.Task | None = None

    @property
    def is_local(self) -> bool:
        return self.model is None or self.model.lower() in LOCAL_EMBEDDING_MODELS

    def get(self, text: str) -> list[float] | None:
        vector = self._vectors.get(text)
        if vector is not None:
            self._vectors.move_to_end(text)
        return vector

    def _put(self, text: str, vector: list[float]) -> None:
        self._vectors[text] = vector
        self._vectors.move_to_end(text)
        while len(self._vectors) > self.max_entries:
            self._vectors.popitem(last=False)

    async def embed(self, texts: list[str], usage: Usage | None = None) -> list[list[float]]:
        """One vector per text, in order; raises :class:`EmbeddingError`."""
        found: dict[str, list[float]] = {}
        waits: dict[str, asyncio.Future] = {}
        for text in dict.fromkeys(texts):
            vector = self.get(text)
            if vector is not None:
                found[text] = vector
                continue
            waiting = self._waiting.get(text)
            if waiting is None:
                waiting = self._waiting[text] = _Waiting(self._new_future())
                self._queue.append(text)
            if usage is not None:
                waiting.usages.append(usage)
            waits[text] = waiting.future
        if waits:
            if self._fetcher is None or self._fetcher.done():
                self._fetcher = asyncio.create_task(self._fetch_queued())
            # shielded: one caller cancelled does not cancel the others' shared fetch
            for text, future in waits.items():
                found[text] = await asyncio.shield(future)
        return [found[text] for text in texts]

    @staticmethod
    def _new_future() -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        # retrieved even when every caller waiting for it was cancelled
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        return future

    async def _fetch_queued(self) -> None:
        """Fetch what is queued, all chunks at once, until nothing is left queued."""
        while self._queue:
            queued, self._queue = self._queue, []
            chunks = [queued[i:i + self.batch_size]
                      for i in range(0, len(queued), self.batch_size)]
            try:
                await asyncio.gather(*(self._fetch(chunk) for chunk in chunks))
            except BaseException:  # cancelled: nobody may wait forever
                for text in [*queued, *self._queue]:
                    waiting = self._waiting.pop(text, None)
                    if waiting is not None and not waiting.future.done():
                        waiting.future.cancel()
                self._queue = []
                raise

    async def _fetch(self, chunk: list[str]) -> None:
        self.requests += 1
        try:
            vectors = await self.llm.embed(chunk, self.model, **self.params)
        except asyncio.CancelledError:
            raise
        except LLMError as exc:
            self._fail(chunk, EmbeddingError(
                f"{exc.kind}: {exc.message} (model {exc.model}, {exc.attempts} attempts)"), exc)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. the local model's packages are missing
            self._fail(chunk, EmbeddingError(f"{type(exc).__name__}: {exc}"), exc)
            return
        for text, vector in zip(chunk, vectors, strict=True):
            self._put(text, vector)
        for usage in self._account(chunk):
            usage.embedding_calls += 1
            if not self.is_local:  # LLMClient.embed reports no usage: price unknown
                usage.add_cost(None)
        for text, vector in zip(chunk, vectors, strict=True):
            self._waiting.pop(text).future.set_result(vector)

    def _account(self, chunk: list[str]) -> list[Usage]:
        """Each usage with a text in ``chunk``, once."""
        usages: dict[int, Usage] = {}
        for text in chunk:
            for usage in self._waiting[text].usages:
                usages.setdefault(id(usage), usage)
        return list(usages.values())

    def _fail(self, chunk: list[str], error: EmbeddingError, cause: Exception) -> None:
        error.__cause__ = cause
        for text in chunk:
            future = self._waiting.pop(text).future
            if not future.done():
                future.set_exception(error)
