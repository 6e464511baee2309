"""Split documents into the passages questions are asked about.

LangChain's recursive splitter cuts on paragraph, line, sentence and word boundaries (on
headings first for Markdown) and keeps pieces under ``chunk_size`` characters with a
small overlap. Each passage of a document (a PDF page, a CSV row) is split on its own,
so a chunk never spans two pages or two rows and keeps its location.
"""

from __future__ import annotations

from dataclasses import dataclass

from .documents import ExtractedDocument

DEFAULT_CHUNK_SIZE = 1500
MIN_CHUNK_SIZE = 200
MAX_CHUNK_SIZE = 8000


@dataclass(frozen=True)
class Chunk:
    document: str
    index: int       # position within its document, from 0
    text: str
    location: str = ""

    @property
    def source(self) -> dict[str, object]:
        out: dict[str, object] = {"document": self.document, "chunk": self.index}
        if self.location:
            out["location"] = self.location
        return out


def _splitter(kind: str, chunk_size: int):
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    overlap = chunk_size // 10
    if kind == "markdown":
        return RecursiveCharacterTextSplitter.from_language(
            Language.MARKDOWN, chunk_size=chunk_size, chunk_overlap=overlap)
    return RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=overlap)


def chunk_document(doc: ExtractedDocument, chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[Chunk]:
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}")
    splitter = _splitter(doc.kind, chunk_size)
    chunks: list[Chunk] = []
    for passage in doc.passages:
        for piece in splitter.split_text(passage.text):
            if piece.strip():
                chunks.append(Chunk(doc.name, len(chunks), piece.strip(), passage.location))
    return chunks


def chunk_documents(docs: list[ExtractedDocument], chunk_size: int = DEFAULT_CHUNK_SIZE
                    ) -> list[Chunk]:
    """The chunks of every document, document by document."""
    return [c for doc in docs for c in chunk_document(doc, chunk_size)]
