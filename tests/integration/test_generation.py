"""Synthetic test data end to end: documents uploaded to the registry, the generator in
the same process (the local stack), a model served by the loopback stub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.generation import qa_reply, wait_generation
from tests.support.stub_llm import StubLLM

DATA = Path(__file__).resolve().parents[1] / "data" / "generation"


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


@pytest.fixture
def stub(stack):
    with StubLLM() as s:
        s.reply("writer", qa_reply)
        stack.generator.llm.deployments["*"] = {"api_base": s.base_url}  # server config
        yield s


def _form(**fields) -> dict:
    form = {"model": "openai/writer", "params": json.dumps({"temperature": 0.3})}
    form.update({k: str(v) for k, v in fields.items()})
    return form


def _file(name: str, content_type: str) -> tuple:
    return ("files", (name, (DATA / name).read_bytes(), content_type))


async def _dataset(client, name="synthetic", dataset_type="evaluation") -> dict:
    r = await client.post("/datasets", json={"name": name, "dataset_type": dataset_type})
    assert r.status_code == 201, r.text
    return r.json()


async def test_text_file_gives_the_requested_cases_with_their_passages(stack_client, stub):
    c = stack_client
    ds = await _dataset(c)
    r = await c.post(f"/datasets/{ds['id']}/generate",
                     data=_form(num_questions=5, question_kinds="simple,reasoning"),
                     files=[_file("shipping.txt", "text/plain")])
    assert r.status_code == 202, r.text
    g = r.json()
    assert g["status"] == "queued" and g["requested"] == 5 and g["engine"] == "direct"
    assert g["documents"][0]["name"] == "shipping.txt" and g["documents"][0]["passages"] == 1
    done = await wait_generation(c, g["id"])
    assert done["status"] == "completed", done
    assert (done["generated"], done["failed"], done["progress"]) == (5, 0, 1.0)
    assert done["usage"]["calls"] == 5 and done["usage"]["prompt_tokens"] > 0

    text = (DATA / "shipping.txt").read_text()
    cases = (await c.get(f"/datasets/{ds['id']}/cases")).json()["items"]
    assert len(cases) == 5
    for case in cases:
        assert case["input"]["question"].startswith(("[simple]", "[reasoning]"))
        assert case["input"]["contexts"] and all(p in text.strip() for p in
                                                  case["input"]["contexts"])
        assert case["expected_output"] in case["input"]["contexts"][0]
        meta = case["metadata"]
        assert meta["synthetic"] and meta["generation_id"] == g["id"]
        assert meta["sources"][0]["document"] == "shipping.txt"
    ds_after = (await c.get(f"/datasets/{ds['id']}")).json()
    assert ds_after["synthetic"] and not ds_after["is_verified"] and ds_after["case_count"] == 5
    assert len(stub.chat_requests) == 5



async def test_pdf_pages_and_multi_context_questions(stack_client, stub):
    c = stack_client
    ds = await _dataset(c)
    r = await c.post(f"/datasets/{ds['id']}/generate", data=_form(num_questions=4),
                     files=[_file("handbook.pdf", "application/pdf")])
    assert r.status_code == 202, r.text
    assert r.json()["documents"][0]["passages"] == 2  # one per page
    # the default mix: simple 50 %, reasoning 25 %, multi_context 25 % (two passages exist)
    assert r.json()["question_kinds"] == {"simple": 0.5, "reasoning": 0.25,
                                          "multi_context": 0.25}
    done = await wait_generation(c, r.json()["id"])
    assert (done["status"], done["generated"]) == ("completed", 4), done
    cases = (await c.get(f"/datasets/{ds['id']}/cases")).json()["items"]
    kinds = sorted(case["metadata"]["question_kind"] for case in cases)
    assert kinds == ["multi_context", "reasoning", "simple", "simple"]
    multi = next(case for case in cases if case["metadata"]["question_kind"] == "multi_context")
    assert [s["location"] for s in multi["metadata"]["sources"]] in (["page 1", "page 2"],
                                                                      ["page 2", "page 1"])
    assert len(multi["input"]["contexts"]) == 2
    assert "Sundays only the flagship store" in " ".join(
        case["input"]["contexts"][0] for case in cases)  # the PDF's text, extracted
    assert multi["input"]["question"].startswith("[multi-context]")


async def test_csv_rows_of_the_chosen_column(stack_client, stub):
    c = stack_client
    ds = await _dataset(c)
    r = await c.post(f"/datasets/{ds['id']}/generate",
                     data=_form(num_questions=3, question_kinds="simple",
                                text_column="answer"),
                     files=[_file("faq.csv", "text/csv")])
    assert r.status_code == 202, r.text
    assert r.json()["documents"][0]["passages"] == 3  # the row with an empty answer is skipped
    done = await wait_generation(c, r.json()["id"])
    assert (done["status"], done["generated"]) == ("completed", 3), done
    cases = (await c.get(f"/datasets/{ds['id']}/cases")).json()["items"]
    rows = sorted(case["metadata"]["sources"][0]["location"] for case in cases)
    assert rows == ["row 2", "row 3", "row 4"]  # each row once before any row twice
    assert all(case["input"]["contexts"][0] in (DATA / "faq.csv").read_text() for case in cases)


async def test_bad_requests_name_the_document_and_store_nothing(stack_client, stub, artifacts):
    c = stack_client
    ds = await _dataset(c)
    gold = await _dataset(c, "gold", "golden")

    async def post(files, dataset=ds, **fields):
        return await c.post(f"/datasets/{dataset['id']}/generate", data=_form(**fields),
                            files=files)

    r = await post([("files", ("empty.txt", b"  \n", "text/plain"))])
    assert r.status_code == 422 and r.json()["document"] == "empty.txt"
    assert "empty" in r.json()["detail"]
    r = await post([("files", ("broken.pdf", b"%PDF-1.4\n1 0 obj << nonsense", "application/pdf"))])
    assert r.status_code == 422 and r.json()["type"] == "urn:harness:problem:document-rejected"
    assert r.json()["detail"].startswith("broken.pdf: not a readable PDF")
    r = await post([_file("faq.csv", "text/csv")], text_column="body")
    body = r.json()
    assert r.status_code == 422 and body["document"] == "faq.csv" and body["field"] == "text_column"
    assert "no column 'body'; its columns are 'id', 'topic', 'answer'" in body["detail"]
    r = await post([_file("faq.csv", "text/csv")])
    assert r.status_code == 422 and "needs text_column" in r.json()["detail"]
    r = await post([_file("shipping.txt", "text/plain"),
                    ("files", ("notes.txt", b"\xff\xfe\x00bad", "text/plain"))])
    assert r.status_code == 422 and [e["document"] for e in r.json()["errors"]] == ["notes.txt"]
    r = await post([("files", ("report.docx", b"PK...", "application/octet-stream"))])
    assert r.status_code == 415 and r.json()["document"] == "report.docx"
    r = await post([_file("shipping.txt", "text/plain")], question_kinds="multi_context")
    assert r.status_code == 422 and r.json()["field"] == "question_kinds"
    assert "two passages" in r.json()["detail"]
    r = await post([_file("shipping.txt", "text/plain")], question_kinds="simple,tricky")
    assert r.status_code == 422 and "unknown question kind 'tricky'" in r.json()["detail"]
    r = await post([_file("shipping.txt", "text/plain")], num_questions=0)
    assert r.status_code == 422 and r.json()["field"] == "num_questions"
    r = await c.post(f"/datasets/{ds['id']}/generate", files=[_file("shipping.txt", "text/plain")],
                     data={"params": json.dumps({"API_KEY": "sk-live"})})
    assert r.status_code == 422 and r.json()["field"] == "params.API_KEY"
    r = await c.post(f"/datasets/{ds['id']}/generate", files=[_file("shipping.txt", "text/plain")],
                     data={"params": json.dumps({"api_base": stub.base_url})})
    assert r.status_code == 422 and r.json()["field"] == "params.api_base"
    r = await post([_file("shipping.txt", "text/plain")], dataset=gold)
    assert r.status_code == 422 and "evaluation dataset" in r.json()["detail"]
    assert (await c.post("/datasets/nope/generate", data=_form(),
                         files=[_file("shipping.txt", "text/plain")])).status_code == 404

    assert (await c.get(f"/datasets/{ds['id']}/generations")).json()["total"] == 0
    assert not (artifacts.root / "documents").exists()  # nothing stored for a refused request
    assert stub.chat_requests == []


async def test_model_failures_are_reported_per_question_with_their_documents(stack_client,
                                                                             stub):
    c = stack_client
    ds = await _dataset(c)
    # every call fails for good (a 400 is not retried): nothing can be generated
    stub.fail_next(status=400, times=100, model="writer")
    r = await c.post(f"/datasets/{ds['id']}/generate",
                     data=_form(num_questions=2, question_kinds="simple"),
                     files=[_file("shipping.txt", "text/plain")])
    done = await wait_generation(c, r.json()["id"])
    assert done["status"] == "failed" and done["generated"] == 0 and done["failed"] == 2
    assert done["reason"].startswith("no question could be generated: shipping.txt: the model "
                                     "call failed")
    assert {e["documents"][0] for e in done["errors"]} == {"shipping.txt"}
    stub.reset()
    stub.reply("writer", qa_reply)

    # a malformed answer gets one repair request and then counts
    stub.script("writer", "Sure! Here is a question: what is shipping?")
    r = await c.post(f"/datasets/{ds['id']}/generate",
                     data=_form(num_questions=1, question_kinds="simple"),
                     files=[_file("shipping.txt", "text/plain")])
    done = await wait_generation(c, r.json()["id"])
    assert (done["status"], done["generated"], done["usage"]["calls"]) == ("completed", 1, 2)
    repair = stub.chat_requests[-1].messages[-1]["content"]
    assert "could not be used" in repair and '"question"' in repair  # with the JSON schema
    listed = (await c.get(f"/datasets/{ds['id']}/generations")).json()
    assert [g["status"] for g in listed["items"]] == ["completed", "failed"]


async def test_a_document_the_generator_cannot_read_is_named(stack, stack_client, stub):
    """The registry checks documents on upload; should a stored one still fail (here: its
    bytes no longer match), the generator skips it, names it, and uses the others."""
    from harness.events import EventMetadata
    from services.registry.domain.generations import RequestGeneration
    from services.registry.handlers import generations

    c = stack_client
    ds = await _dataset(c)
    rt = stack.runtime
    good = (DATA / "shipping.txt").read_bytes()
    docs = [{"name": "shipping.txt", "kind": "text", "sha256": _sha(good),
             "uri": await rt.artifacts.put("t/shipping.txt", good)},
            {"name": "handbook.pdf", "kind": "pdf", "sha256": _sha(b"other bytes"),
             "uri": await rt.artifacts.put("t/handbook.pdf", (DATA / "handbook.pdf").read_bytes())}]
    await generations.handle(rt, "g-1", RequestGeneration(
        generation_id="g-1", dataset_id=ds["id"], documents=docs, num_questions=2,
        question_kinds={"simple": 1.0}, model="openai/writer",
        params={}), EventMetadata(actor="test"))
    done = await wait_generation(c, "g-1")
    assert (done["status"], done["generated"]) == ("completed", 2)
    by_name = {d["name"]: d for d in done["documents"]}
    assert by_name["handbook.pdf"]["error"] == "the stored file does not match its SHA-256"
    assert by_name["shipping.txt"]["passages"] == 1

    docs = [docs[1], {**docs[0], "kind": "csv", "text_column": "answer"}]
    await generations.handle(rt, "g-2", RequestGeneration(
        generation_id="g-2", dataset_id=ds["id"], documents=docs, num_questions=2,
        question_kinds={"simple": 1.0}, model="openai/writer",
        params={}), EventMetadata(actor="test"))
    done = await wait_generation(c, "g-2")
    assert done["status"] == "failed"
    assert done["reason"] == ("no usable document: handbook.pdf: the stored file does not "
                              "match its SHA-256; shipping.txt: no column 'answer'; its "
                              "columns are 'Shipping at Northwind Outfitters'")


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


async def test_ragas_engine_through_our_llm_client_and_offline_embeddings(stack,
                                                                         stack_client):
    c = stack_client
    from tests.support.ragas_testset import testset_reply

    ds = await _dataset(c, "ragas-made")
    with StubLLM() as stub:
        stub.reply("writer", testset_reply)
        stack.generator.llm.deployments["*"] = {"api_base": stub.base_url}
        r = await c.post(f"/datasets/{ds['id']}/generate",
                         data=_form(num_questions=3, question_kinds="simple",
                                    engine="ragas", chunk_size=400),
                         files=[_file("shipping.txt", "text/plain"),
                                _file("handbook.pdf", "application/pdf")])
        assert r.status_code == 202, r.text
        done = await wait_generation(c, r.json()["id"], timeout=180)
        calls = len(stub.chat_requests)
    assert done["status"] == "completed", done
    assert done["engine"].startswith("ragas ") and done["generated"] == 3
    # Ragas asks for a summary, themes and entities per passage, personas, then the questions
    assert calls == done["usage"]["calls"] > 3 * 5
    cases = (await c.get(f"/datasets/{ds['id']}/cases")).json()["items"]
    assert len(cases) == 3
    passages = {d: (DATA / d).read_text() for d in ["shipping.txt"]}
    for case in cases:
        meta = case["metadata"]
        assert meta["engine"] == done["engine"] and meta["question_kind"] == "simple"
        assert meta["ragas"]["synthesizer"] == "single_hop_specific_query_synthesizer"
        assert case["input"]["question"].startswith("What should a shopper know about")
        assert case["input"]["contexts"] and meta["sources"][0]["document"] in (
            "shipping.txt", "handbook.pdf")
        source = meta["sources"][0]["document"]
        if source in passages:
            assert case["input"]["contexts"][0] in passages[source]
        assert case["expected_output"].split(".")[0] in case["input"]["contexts"][0]
