"""Generations of synthetic cases: request one from documents, cancel one.

A request is checked as far as it can be without a model, in the order the API reports
what is wrong: the dataset, the options, then every document read, extracted and split
(a bad one is refused naming it, and nothing is stored or requested); the documents are
then stored in the artifact store by content hash and ``GenerationRequested`` goes to the
generator.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Protocol

from starlette.concurrency import run_in_threadpool

from harness.config import get_settings
from harness.events import EventMetadata, StoredEvent, streams
from harness.generation.chunking import chunk_document
from harness.generation.documents import DocumentError, detect_kind, extract
from harness.generation.plan import effective_kinds, parse_kinds
from harness.llm import options as llm_options
from harness.tracing import context as tracing_context

from ..commands import EventSourced, pure
from ..domain import generations as domain
from ..domain.checks import check_llm_options
from ..domain.errors import DomainError, Invalid, NotFound
from .credentials import refuse_model_without_key

if TYPE_CHECKING:
    from ..runtime import Runtime

GENERATION = EventSourced(domain.GenerationState(), domain.replay)

MAX_DOCUMENT_BYTES = 25 * 1024 * 1024
MAX_TOTAL_BYTES = 100 * 1024 * 1024


class MissingExtra(DomainError):
    """Reading documents needs the generator extra, not installed here."""


async def handle(rt: Runtime, generation_id: str, command: domain.Command,
                 metadata: EventMetadata) -> list[StoredEvent]:
    _, stored = await rt.commands.execute(
        streams.generation(generation_id), GENERATION,
        pure(lambda state: domain.decide(command, state)), metadata)
    return stored


class Upload(Protocol):
    """A document as uploaded (FastAPI's ``UploadFile`` is one)."""

    filename: str | None
    content_type: str | None

    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class GenerationForm:
    """The options of a request, as the form gives them."""

    num_questions: int = 10
    question_kinds: str | None = None  # "simple,reasoning" or "simple=2,multi_context=1"
    language: str = "English"
    model: str | None = None
    params: str | None = None  # LLM options as JSON
    engine: str = "direct"
    text_column: str | None = None
    chunk_size: int = 1500


@dataclass(frozen=True)
class _Document:
    name: str
    kind: str
    data: bytes
    text_column: str | None


async def request(rt: Runtime, dataset_id: str, form: GenerationForm, files: list[Upload],
                  metadata: EventMetadata, trace_context: dict[str, str] | None = None) -> str:
    """Requests a generation into the (evaluation) dataset; returns its id.
    ``trace_context``: its span in the trace of the request that asked for it
    (:func:`harness.tracing.context.allocate`); a new trace when not given."""
    await _check_dataset(rt, dataset_id)
    names = [f.filename or f"document-{i + 1}" for i, f in enumerate(files)]
    command, kinds = _command(rt, dataset_id, form, names)
    domain.check_options(command)  # before any document is read or stored
    domain.check_document_names(names)
    documents, problems = await _read(names, files, form.text_column)
    passages = await _passages(documents, form.chunk_size, problems)
    if problems:
        raise domain.rejected(problems)
    try:
        kinds = effective_kinds(kinds, sum(passages.values()))
    except ValueError as exc:
        raise Invalid(f"question_kinds: {exc}", field="question_kinds") from exc
    stored = [await _store(rt, d, passages[d.name]) for d in documents]
    await handle(rt, command.generation_id, dataclasses.replace(
        command, documents=stored, question_kinds=kinds,
        trace_context=trace_context or tracing_context.allocate()), metadata)
    return command.generation_id


async def _check_dataset(rt: Runtime, dataset_id: str) -> None:
    dataset_type = await rt.pool.fetchval("SELECT dataset_type FROM datasets WHERE id = $1",
                                          dataset_id)
    if dataset_type is None:
        raise NotFound(f"dataset {dataset_id} not found")
    if dataset_type != "evaluation":
        raise Invalid("generated cases go into an evaluation dataset; review them there and "
                      "promote the accepted ones into this golden dataset "
                      "(POST /datasets/{golden_id}/promote)", field="dataset_id")


def _command(rt: Runtime, dataset_id: str, form: GenerationForm, names: list[str]
             ) -> tuple[domain.RequestGeneration, dict[str, float] | None]:
    """The request without its documents' content, and the question kinds asked for (None:
    the default mix, fitted to the passages once they are known)."""
    try:
        kinds = parse_kinds(form.question_kinds)
    except ValueError as exc:
        raise Invalid(f"question_kinds: {exc}", field="question_kinds") from exc
    params = _params(form.params)
    if rt.calls_providers:  # the generator runs here, with this environment
        refuse_model_without_key(form.model or get_settings().judge_model, params, "model",
                                 "generates the cases")
    return domain.RequestGeneration(
        generation_id=str(uuid.uuid4()), dataset_id=dataset_id,
        documents=[{"name": n} for n in names], num_questions=form.num_questions,
        question_kinds=kinds or {"simple": 1.0}, language=form.language,
        model=form.model or None, params=params, engine=form.engine,
        chunk_size=form.chunk_size), kinds


def _params(raw: str | None) -> dict[str, Any]:
    if not raw or not raw.strip():
        return {}
    try:
        params = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise Invalid(f"params: not JSON: {exc}", field="params") from exc
    if not isinstance(params, dict):
        raise Invalid("params: must be a JSON object of LiteLLM options", field="params")
    check_llm_options(params, "params", llm_options.JUDGE_OPTIONS)
    return params


async def _read(names: list[str], files: list[Upload], text_column: str | None,
                ) -> tuple[list[_Document], list[dict[str, Any]]]:
    """Each upload's bytes and kind; a document too large is a problem of its own."""
    documents: list[_Document] = []
    problems: list[dict[str, Any]] = []
    total = 0
    for name, upload in zip(names, files, strict=True):
        data = await upload.read(MAX_DOCUMENT_BYTES + 1)
        total += len(data)
        if len(data) > MAX_DOCUMENT_BYTES:
            problems.append({"document": name, "field": "files",
                             "message": f"larger than {MAX_DOCUMENT_BYTES // 2**20} MB"})
            continue
        try:
            kind = detect_kind(name, upload.content_type)
        except DocumentError as exc:
            raise domain.UnsupportedDocument(str(exc), document=name) from exc
        documents.append(_Document(name, kind, data, text_column if kind == "csv" else None))
    if total > MAX_TOTAL_BYTES:
        raise Invalid(f"files: more than {MAX_TOTAL_BYTES // 2**20} MB in one request",
                      field="files")
    return documents, problems


def _count_passages(doc: _Document, chunk_size: int) -> int:
    """Extract and split (in a worker thread): the number of passages, or DocumentError."""
    extracted = extract(doc.name, doc.kind, doc.data,  # type: ignore[arg-type]
                        text_column=doc.text_column)
    return len(chunk_document(extracted, chunk_size))


async def _passages(documents: list[_Document], chunk_size: int,
                    problems: list[dict[str, Any]]) -> dict[str, int]:
    """Each readable document's number of passages; the others join ``problems``."""
    passages: dict[str, int] = {}
    for doc in documents:
        try:
            passages[doc.name] = await run_in_threadpool(_count_passages, doc, chunk_size)
        except ImportError as exc:
            raise MissingExtra("reading documents needs the generator extra "
                               f"(pip install 'harness[generator]'): {exc}") from exc
        except DocumentError as exc:
            problems.append({"document": doc.name, "field": exc.field or "files",
                             "message": exc.reason})
    return passages


async def _store(rt: Runtime, doc: _Document, passages: int) -> dict[str, Any]:
    """The document in the artifact store, by content hash, as the request names it."""
    sha = hashlib.sha256(doc.data).hexdigest()
    uri = await rt.artifacts.put(f"documents/{sha}{PurePath(doc.name).suffix.lower()}",
                                 doc.data, content_type=f"application/{doc.kind}")
    stored = {"name": doc.name, "kind": doc.kind, "uri": uri, "sha256": sha,
              "bytes": len(doc.data), "passages": passages}
    if doc.text_column:
        stored["text_column"] = doc.text_column
    return stored
