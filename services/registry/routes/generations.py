"""Synthetic test data: ``POST /datasets/{id}/generate`` and generation progress.

The request is checked as far as it can be without a model (``handlers/generations.py``:
every document is read, extracted and split; a bad one is a 422 naming it, and nothing is
stored or requested), and ``GenerationRequested`` goes to the generator. Progress is the
``generations`` read model.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from pydantic import Field

from harness.tracing import context as tracing_context
from harness.web.auth import require
from harness.web.bodies import RequestBody
from harness.web.input_guard import check_form
from harness.web.problems import ProblemError

from ..domain import generations as domain
from ..handlers import generations as handlers
from ..read.queries import generations as queries
from ..schemas import GenerationOut, Page
from .deps import Paging, metadata, runtime

router = APIRouter(tags=["generation"])


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
    bad = check_form({"question_kinds": form.question_kinds, "language": form.language,
                      "model": form.model, "params": form.params, "engine": form.engine,
                      "text_column": form.text_column,
                      **{f"files.{i}.filename": f.filename for i, f in enumerate(form.files)}})
    if bad is not None:
        raise ProblemError(422, "validation-error", f"{bad.field}: {bad.message}",
                           errors=[bad.as_error()])
    options = handlers.GenerationForm(**form.model_dump(exclude={"files"}))
    generation_id = await handlers.request(rt, dataset_id, options, form.files,
                                           metadata(request),
                                           tracing_context.allocate(request.headers))
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
