"""Synthetic test data: ``POST /datasets/{id}/generate`` and generation progress.

The request is checked as far as it can be without a model: every document is read,
extracted and split here (a bad one is a 422 naming it, and nothing is stored or
requested), then stored in the artifact store by content hash, and
``GenerationRequested`` goes to the generator. Progress is the ``generations`` read model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from harness.config import get_settings
from harness.generation.chunking import chunk_document
from harness.generation.documents import DocumentError, detect_kind, extract
from harness.generation.plan import effective_kinds, parse_kinds
from harness.llm import options
from harness.web.auth import require
from harness.web.bodies import RequestBody
from harness.web.input_guard import check_form
from harness.web.problems import ProblemError

from ..domain import generations as domain
from ..domain.checks import check_llm_options
from ..domain.errors import Invalid
from ..handlers import generations as handlers
from ..handlers.credentials import refuse_model_without_key
from ..read.queries import generations as queries
from ..read.queries.datasets import get_dataset
from ..schemas import GenerationOut, Page
from .deps import Paging, metadata, runtime

router = APIRouter(tags=["generation"])

MAX_DOCUMENT_BYTES = 25 * 1024 * 1024
MAX_TOTAL_BYTES = 100 * 1024 * 1024


def _params(raw: str | None) -> dict[str, Any]:
    if not raw or not raw.strip():
        return {}
    try:
        params = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise Invalid(f"params: not JSON: {exc}", field="params") from exc
    if not isinstance(params, dict):
        raise Invalid("params: must be a JSON object of LiteLLM options", field="params")
    check_llm_options(params, "params", options.JUDGE_OPTIONS)
    return params


def _read_document(name: str, kind: str, data: bytes, text_column: str | None,
                   chunk_size: int) -> int:
    """Extract and split (in a worker thread): the number of passages, or DocumentError."""
    doc = extract(name, kind, data, text_column=text_column)  # type: ignore[arg-type]
    return len(chunk_document(doc, chunk_size))


class GenerateForm(RequestBody):
    """``POST /datasets/{id}/generate`` (multipart): documents and options; a form field
    not listed here is refused (422 naming it)."""

    files: list[UploadFile] = Field(description=".txt, .md, .pdf or .csv documents")
    num_questions: int = Field(10, description="how many cases to generate")
    question_kinds: str | None = Field(
        None, description='"simple,reasoning" or "simple=2,multi_context=1" (weights); '
                          "default simple 50%, reasoning 25%, multi_context 25%")
    language: str = Field("English", description="language of the questions and answers")
    model: str | None = Field(None, description="LiteLLM model id; default: the generator's "
                                                "HARNESS_JUDGE_MODEL")
    params: str | None = Field(None, description='LLM options as JSON, e.g. {"temperature": '
                                                 '0.2}; endpoints and credentials come from '
                                                 'server configuration')
    engine: str = Field("direct", description="direct (one call per question) or ragas")
    text_column: str | None = Field(None, description="the column holding the text of CSVs")
    chunk_size: int = Field(1500, description="characters per passage")


@router.post("/datasets/{dataset_id}/generate", response_model=GenerationOut, status_code=202,
             summary="Generate test cases from documents")
async def generate(dataset_id: str, request: Request, form: Annotated[GenerateForm, Form()],
                   rt=Depends(runtime), _=Depends(require("editor"))):
    """Answers 202 at once; follow ``GET /generations/{id}``. Cases land in this
    (evaluation) dataset marked synthetic and pending review."""
    files, model, text_column, chunk_size = (form.files, form.model, form.text_column,
                                             form.chunk_size)
    bad = check_form({"question_kinds": form.question_kinds, "language": form.language,
                      "model": model, "params": form.params, "engine": form.engine,
                      "text_column": text_column,
                      **{f"files.{i}.filename": f.filename for i, f in enumerate(files)}})
    if bad is not None:
        raise ProblemError(422, "validation-error", f"{bad.field}: {bad.message}",
                           errors=[bad.as_error()])
    ds = await get_dataset(rt.pool, dataset_id)
    if ds.dataset_type != "evaluation":
        raise Invalid("generated cases go into an evaluation dataset; review them there and "
                      "promote the accepted ones into this golden dataset "
                      "(POST /datasets/{golden_id}/promote)", field="dataset_id")
    try:
        kinds = parse_kinds(form.question_kinds)
    except ValueError as exc:
        raise Invalid(f"question_kinds: {exc}", field="question_kinds") from exc
    extra = _params(form.params)
    if rt.calls_providers:  # the generator runs here, with this environment
        refuse_model_without_key(model or get_settings().judge_model, extra, "model",
                                 "generates the cases")
    names = [f.filename or f"document-{i + 1}" for i, f in enumerate(files)]
    generation_id = str(uuid.uuid4())
    options = domain.RequestGeneration(
        generation_id=generation_id, dataset_id=dataset_id, documents=[{"name": n} for n in names],
        num_questions=form.num_questions, question_kinds=kinds or {"simple": 1.0},
        language=form.language, model=model or None, params=extra, engine=form.engine,
        chunk_size=chunk_size)
    domain.check_options(options)  # before any document is read or stored

    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise Invalid(f"files: two documents are named {duplicates[0]!r}; names identify "
                      "documents in errors and case sources", field="files")
    uploads: list[tuple[str, str, bytes, str | None]] = []
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
            raise ProblemError(415, "unsupported-file", str(exc), document=name) from exc
        uploads.append((name, kind, data, text_column if kind == "csv" else None))
    if total > MAX_TOTAL_BYTES:
        raise Invalid(f"files: more than {MAX_TOTAL_BYTES // 2**20} MB in one request",
                      field="files")

    passages: dict[str, int] = {}
    for name, kind, data, column in uploads:
        try:
            passages[name] = await run_in_threadpool(_read_document, name, kind, data, column,
                                                     chunk_size)
        except ImportError as exc:
            raise ProblemError(501, "missing-extra", "reading documents needs the generator "
                               f"extra (pip install 'harness[generator]'): {exc}") from exc
        except DocumentError as exc:
            problems.append({"document": name, "field": exc.field or "files",
                             "message": exc.reason})
    if problems:
        first = problems[0]
        raise ProblemError(422, "document-rejected",
                           f"{first['document']}: {first['message']}"
                           + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                           document=first["document"], field=first["field"], errors=problems)
    try:
        kinds = effective_kinds(kinds, sum(passages.values()))
    except ValueError as exc:
        raise Invalid(f"question_kinds: {exc}", field="question_kinds") from exc

    documents = []
    for name, kind, data, column in uploads:
        sha = hashlib.sha256(data).hexdigest()
        uri = await rt.artifacts.put(f"documents/{sha}{PurePath(name).suffix.lower()}", data,
                                     content_type=f"application/{kind}")
        doc = {"name": name, "kind": kind, "uri": uri, "sha256": sha, "bytes": len(data),
               "passages": passages[name]}
        if column:
            doc["text_column"] = column
        documents.append(doc)

    await handlers.handle(rt, generation_id, dataclasses.replace(
        options, documents=documents, question_kinds=kinds), metadata(request))
    return await queries.get_generation(rt.pool, generation_id)


class CancelIn(RequestBody):
    reason: str = Field(default="", max_length=2000, description="why it is stopped")


@router.post("/generations/{generation_id}/cancel", response_model=GenerationOut,
             summary="Stop a queued or running generation")
async def cancel_generation(generation_id: str, request: Request, body: CancelIn | None = None,
                            rt=Depends(runtime), _=Depends(require("editor"))):
    """The generator stops, before its next batch at the latest; cases already generated
    stay in the dataset for review. A generation that already ended is a 409
    ``generation-finished``."""
    await handlers.handle(
        rt, generation_id, domain.CancelGeneration(generation_id, (body or CancelIn()).reason),
        metadata(request))
    return await queries.get_generation(rt.pool, generation_id)


@router.get("/generations/{generation_id}", response_model=GenerationOut)
async def get_generation(generation_id: str, rt=Depends(runtime), _=Depends(require("viewer"))):
    return await queries.get_generation(rt.pool, generation_id)


@router.get("/datasets/{dataset_id}/generations", response_model=Page[GenerationOut])
async def list_generations(dataset_id: str, paging=Paging, rt=Depends(runtime),
                           _=Depends(require("viewer"))):
    return await queries.list_generations(rt.pool, dataset_id, paging.limit, paging.offset)
