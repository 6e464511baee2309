"""Documents in, passages out: kinds, extraction, the failures that name the document,
and splitting into chunks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfWriter

from harness.generation.chunking import chunk_document
from harness.generation.documents import (
    DocumentError,
    ExtractedDocument,
    Passage,
    detect_kind,
    extract,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "generation"


@pytest.mark.parametrize("name, content_type, kind", [
    ("a.txt", None, "text"), ("A.MD", None, "markdown"), ("b.markdown", None, "markdown"),
    ("c.pdf", "application/octet-stream", "pdf"), ("d.csv", None, "csv"),
    ("upload", "text/csv; charset=utf-8", "csv"), ("notes", "text/plain", "text"),
])
def test_detect_kind(name, content_type, kind):
    assert detect_kind(name, content_type) == kind


def test_unsupported_kind_names_the_file():
    with pytest.raises(DocumentError) as e:
        detect_kind("report.docx", "application/vnd.openxmlformats")
    assert e.value.document == "report.docx" and "unsupported" in str(e.value)


def test_text_and_markdown():
    doc = extract("a.txt", "text", "\ufeff  Hello there.\n".encode())
    assert doc.passages == (Passage("Hello there."),)
    with pytest.raises(DocumentError, match="a.txt: the file is empty"):
        extract("a.txt", "text", b" \n\t")
    with pytest.raises(DocumentError, match=r"not UTF-8 text \(invalid byte at offset 2\)"):
        extract("a.txt", "text", b"ok\xff")


def test_pdf_pages_are_passages_with_their_page_numbers():
    doc = extract("handbook.pdf", "pdf", (DATA / "handbook.pdf").read_bytes())
    assert [p.location for p in doc.passages] == ["page 1", "page 2"]
    assert doc.passages[0].text.startswith("Store staff handbook: opening hours")
    assert "cleaning fee of 15" in doc.passages[1].text


def _blank_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_failures_name_the_document():
    with pytest.raises(DocumentError, match="scan.pdf: none of its 2 PDF page"):
        extract("scan.pdf", "pdf", _blank_pdf(2))
    with pytest.raises(DocumentError, match="broken.pdf: not a readable PDF"):
        extract("broken.pdf", "pdf", b"%PDF-1.7\nthis is not a pdf body")
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(DocumentError, match="locked.pdf: the PDF is encrypted"):
        extract("locked.pdf", "pdf", out.getvalue())


def test_csv_rows_of_the_text_column():
    doc = extract("faq.csv", "csv", (DATA / "faq.csv").read_bytes(), text_column="answer")
    assert [p.location for p in doc.passages] == ["row 2", "row 3", "row 4"]
    assert doc.passages[1].text.startswith("Tents and backpacks")
    multiline = b'id,text\n1,"first line\nsecond line"\n2,next\n'
    rows = extract("m.csv", "csv", multiline, text_column="text").passages
    assert [p.location for p in rows] == ["row 3", "row 4"]  # the file's line numbers


def test_csv_failures_say_which_column():
    data = (DATA / "faq.csv").read_bytes()
    with pytest.raises(DocumentError) as e:
        extract("faq.csv", "csv", data, text_column="body")
    assert e.value.field == "text_column"
    assert e.value.reason == "no column 'body'; its columns are 'id', 'topic', 'answer'"
    with pytest.raises(DocumentError, match="needs text_column"):
        extract("faq.csv", "csv", data)
    with pytest.raises(DocumentError, match="column 'b' has no text in any row"):
        extract("e.csv", "csv", b"a,b\n1,\n2,  \n", text_column="b")


def test_chunks_stay_under_the_size_and_keep_locations():
    text = " ".join(f"Sentence number {i} talks about tents and stoves." for i in range(200))
    doc = ExtractedDocument("long.txt", "text", (Passage(text, "page 3"),))
    chunks = chunk_document(doc, chunk_size=500)
    assert len(chunks) > 10 and all(len(c.text) <= 500 for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert {c.location for c in chunks} == {"page 3"} and chunks[0].document == "long.txt"
    assert chunks[0].source == {"document": "long.txt", "chunk": 0, "location": "page 3"}
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_document(doc, chunk_size=10)


def test_markdown_splits_on_headings_first():
    sections = [f"## Section {i}\n\n" + "Words about this section. " * 12 for i in range(4)]
    doc = ExtractedDocument("guide.md", "markdown", (Passage("\n\n".join(sections)),))
    chunks = chunk_document(doc, chunk_size=400)
    assert all(c.text.startswith("## Section") for c in chunks)
    assert len(chunks) == 4
