"""Source documents for generation: which kind a file is, and its text as passages.

Pure functions over bytes (no I/O): the registry runs them on upload to refuse a bad
document up front, and the generator runs them again on what the artifact store holds.
A document that cannot be used raises :class:`DocumentError` naming it and saying why.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

DocumentKind = Literal["text", "markdown", "pdf", "csv"]
DOCUMENT_KINDS: tuple[str, ...] = ("text", "markdown", "pdf", "csv")

_BY_EXTENSION: dict[str, DocumentKind] = {
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
    ".pdf": "pdf", ".csv": "csv",
}
_BY_CONTENT_TYPE: dict[str, DocumentKind] = {
    "text/plain": "text", "text/markdown": "markdown", "text/x-markdown": "markdown",
    "application/pdf": "pdf", "text/csv": "csv",
}


class DocumentError(ValueError):
    """A document that cannot be used; ``field`` names the request field at fault."""

    def __init__(self, document: str, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{document}: {reason}")
        self.document = document
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class Passage:
    """A stretch of a document's text and where it is (``page 3``, ``row 12``, or "")."""

    text: str
    location: str = ""


@dataclass(frozen=True)
class ExtractedDocument:
    name: str
    kind: DocumentKind
    passages: tuple[Passage, ...]

    @property
    def characters(self) -> int:
        return sum(len(p.text) for p in self.passages)


def detect_kind(filename: str, content_type: str | None = None) -> DocumentKind:
    """The kind of an upload from its extension, else its content type."""
    kind = _BY_EXTENSION.get(PurePath(filename).suffix.lower())
    if kind is None and content_type:
        kind = _BY_CONTENT_TYPE.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        raise DocumentError(filename, "unsupported file type: use .txt, .md, .pdf or .csv",
                            field="files")
    return kind


def extract(name: str, kind: DocumentKind, data: bytes, *,
            text_column: str | None = None) -> ExtractedDocument:
    """The passages of a document. Text and Markdown give one passage, a PDF one per page
    with text, a CSV one per non-blank cell of ``text_column``."""
    if not data.strip():
        raise DocumentError(name, "the file is empty")
    if kind == "pdf":
        passages = _pdf_pages(name, data)
    elif kind == "csv":
        passages = _csv_rows(name, _decode(name, data), text_column)
    elif kind in ("text", "markdown"):
        text = _decode(name, data).strip()
        passages = [Passage(text)] if text else []
    else:
        raise DocumentError(name, f"unknown document kind {kind!r}")
    if not passages:
        raise DocumentError(name, "the document has no text")
    return ExtractedDocument(name=name, kind=kind, passages=tuple(passages))


def _decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(name, f"not UTF-8 text (invalid byte at offset {exc.start})"
                            ) from exc


def _pdf_pages(name: str, data: bytes) -> list[Passage]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(name, "the PDF is encrypted with a password")
        pages = [(i, page.extract_text() or "") for i, page in enumerate(reader.pages, 1)]
    except DocumentError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(name, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise DocumentError(name, "the PDF has no pages")
    passages = [Passage(text.strip(), f"page {i}") for i, text in pages if text.strip()]
    if not passages:
        raise DocumentError(name, f"none of its {len(pages)} PDF page(s) has extractable text "
                                  "(a scanned PDF needs OCR first)")
    return passages


def _csv_rows(name: str, text: str, text_column: str | None) -> list[Passage]:
    if not text_column:
        raise DocumentError(name, "a CSV needs text_column: the column holding the text",
                            field="text_column")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = reader.fieldnames or []
        if text_column not in columns:
            shown = ", ".join(repr(c) for c in columns[:20]) or "none"
            raise DocumentError(name, f"no column {text_column!r}; its columns are {shown}",
                                field="text_column")
        passages = [Passage(cell.strip(), f"row {reader.line_num}")  # the file's line
                    for row in reader if (cell := row.get(text_column) or "").strip()]
    except csv.Error as exc:
        raise DocumentError(name, f"not a readable CSV: {exc}") from exc
    if not passages:
        raise DocumentError(name, f"column {text_column!r} has no text in any row",
                            field="text_column")
    return passages
