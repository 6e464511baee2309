"""Synthetic test cases from documents, independent of the service.

    docs = [extract("faq.md", "markdown", data)]            # documents.py
    chunks = chunk_documents(docs)                           # chunking.py
    plan = plan_questions(chunks, 20, DEFAULT_KINDS, seed)   # plan.py
    outcomes = await DirectEngine(llm, model).generate(plan, chunks, "English")
    cases = [case_from(gid, o, engine="direct", language="English") for o in outcomes if o.qa]

Two engines make the same outcomes: :class:`DirectEngine` (one model call per question,
``direct.py``) and :class:`RagasEngine` (Ragas's test-set generator, ``ragas_engine.py``;
needs the ``scorer`` extra).
"""

from .cases import Outcome, QuestionAnswer, case_from, error_from
from .chunking import Chunk, chunk_document, chunk_documents
from .direct import DirectEngine
from .documents import DocumentError, ExtractedDocument, Passage, detect_kind, extract
from .plan import (
    DEFAULT_KINDS,
    QUESTION_KINDS,
    PlannedQuestion,
    batches,
    effective_kinds,
    parse_kinds,
    plan_questions,
)
from .ragas_engine import RagasEngine

__all__ = [
    "DEFAULT_KINDS", "QUESTION_KINDS", "Chunk", "DirectEngine", "DocumentError",
    "ExtractedDocument", "Outcome", "Passage", "PlannedQuestion", "QuestionAnswer",
    "RagasEngine", "batches", "case_from", "chunk_document", "chunk_documents", "detect_kind",
    "effective_kinds", "error_from", "extract", "parse_kinds", "plan_questions",
]
