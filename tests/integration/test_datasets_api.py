import io
import json

PROBLEM = "application/problem+json"


async def make_dataset(client, name="qa", **kw):
    r = await client.post("/datasets", json={"name": name, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def upload(name, text, ctype="text/csv"):
    return {"file": (name, io.BytesIO(text.encode()), ctype)}


async def test_dataset_crud_cases_and_events(client):
    ds = await make_dataset(client, description="d")
    assert (ds["dataset_type"], ds["is_verified"], ds["case_count"]) == ("evaluation", False, 0)
    gold = await make_dataset(client, "gold", dataset_type="golden")
    assert gold["dataset_type"] == "golden"
    r = await client.post(f"/datasets/{ds['id']}/cases", json={"cases": [
        {"input": {"q": "2+2"}, "expected_output": "4", "assert": [{"type": "contains",
                                                                   "value": "4"}]},
        {"input": {"q": "capital of France"}, "metadata": {"topic": "geo"}},
    ]})
    assert r.status_code == 201, r.text
    cases = r.json()["items"]
    assert [c["input"]["q"] for c in cases] == ["2+2", "capital of France"]
    assert cases[0]["assert"] == [{"type": "contains", "value": "4"}]
    listed = (await client.get(f"/datasets/{ds['id']}/cases", params={"limit": 1})).json()
    assert listed["total"] == 2 and len(listed["items"]) == 1
    cid = cases[1]["id"]
    r = await client.patch(f"/datasets/{ds['id']}/cases/{cid}",
                           json={"expected_output": "Paris"})
    assert r.json()["expected_output"] == "Paris" and r.json()["metadata"] == {"topic": "geo"}
    assert (await client.delete(f"/datasets/{ds['id']}/cases/{cases[0]['id']}")).status_code \
        == 204
    got = (await client.get(f"/datasets/{ds['id']}")).json()
    assert got["case_count"] == 1
    types = [e["type"] for e in (await client.get("/events", params={"limit": 1000})).json()
             ["items"] if e["stream_id"] == f"dataset-{ds['id']}"]
    assert types == ["DatasetCreated", "CasesAdded", "CaseUpdated", "CaseRemoved"]
    lst = (await client.get("/datasets", params={"dataset_type": "golden"})).json()
    assert [d["name"] for d in lst["items"]] == ["gold"]


async def test_case_and_dataset_errors(client):
    ds = await make_dataset(client)
    assert (await client.post("/datasets", json={"name": "QA"})).status_code == 409
    r = await client.post("/datasets", json={"name": "x", "dataset_type": "silver"})
    assert r.status_code == 422
    r = await client.post(f"/datasets/{ds['id']}/cases", json={"cases": [
        {"input": {}}, {"input": {}, "assert": [{"value": "no type"}]}]})
    assert r.status_code == 422 and r.json()["field"] == "cases.1.assert"
    assert (await client.get(f"/datasets/{ds['id']}")).json()["case_count"] == 0
    assert (await client.patch(f"/datasets/{ds['id']}/cases/nope", json={})).status_code == 404
    assert (await client.delete(f"/datasets/{ds['id']}/cases/nope")).status_code == 404
    assert (await client.get("/datasets/nope/cases")).status_code == 404
    r = await client.post(f"/datasets/{ds['id']}/verify", json={})
    assert r.status_code == 422  # nothing to verify


async def test_verify_and_any_change_clears_it(client):
    ds = await make_dataset(client, "g", dataset_type="golden")
    await client.post(f"/datasets/{ds['id']}/cases", json={"cases": [{"input": {"a": 1}}]})
    r = await client.post(f"/datasets/{ds['id']}/verify", json={"note": "checked all"},
                          headers={"X-Actor": "reviewer"})
    v = r.json()
    assert v["is_verified"] and v["verified_by"] == "reviewer" and v["verified_at"]
    await client.post(f"/datasets/{ds['id']}/cases", json={"cases": [{"input": {"a": 2}}]})
    assert not (await client.get(f"/datasets/{ds['id']}")).json()["is_verified"]


async def test_import_csv_with_promptfoo_conventions(client):
    ds = await make_dataset(client)
    csv_text = (
        "question,language,__expected,__expected2,__description,__threshold\n"
        'What is 2+2?,en,contains: 4,not-icontains: five,arith,0.5\n'
        '"Capital, of France",fr,"similar(0.8): Paris",,geo,\n'
        "Say hi,en,Hello,,plain text means equals,\n"
    )
    r = await client.post(f"/datasets/{ds['id']}/import", files=upload("tests.csv", csv_text))
    assert r.status_code == 201, r.text
    assert r.json() == {"dataset_id": ds["id"], "imported": 3, "case_count": 3, "format": "csv"}
    cases = (await client.get(f"/datasets/{ds['id']}/cases")).json()["items"]
    assert cases[0]["input"] == {"question": "What is 2+2?", "language": "en"}
    assert cases[0]["assert"] == [{"type": "contains", "value": "4"},
                                  {"type": "not-icontains", "value": "five"}]
    assert cases[0]["threshold"] == 0.5 and cases[0]["metadata"]["description"] == "arith"
    assert cases[1]["input"]["question"] == "Capital, of France"
    assert cases[1]["assert"] == [{"type": "similar", "threshold": 0.8, "value": "Paris"}]
    assert cases[2]["assert"] == [{"type": "equals", "value": "Hello"}]


async def test_import_json_and_jsonl(client):
    ds = await make_dataset(client)
    doc = [{"vars": {"q": "a"}, "assert": [{"type": "equals", "value": "a"}]},
           {"input": {"q": "b"}, "expected_output": "B", "metadata": {"k": 1}},
           {"q": "flat object = variables"}]
    r = await client.post(f"/datasets/{ds['id']}/import",
                          files=upload("cases.json", json.dumps(doc), "application/json"))
    assert r.status_code == 201, r.text
    jsonl = "\n".join(json.dumps({"input": {"q": str(i)}}) for i in range(5)) + "\n\n"
    r = await client.post(f"/datasets/{ds['id']}/import",
                          files=upload("more.jsonl", jsonl, "application/x-ndjson"))
    assert r.json()["imported"] == 5 and r.json()["case_count"] == 8
    cases = (await client.get(f"/datasets/{ds['id']}/cases", params={"limit": 3})).json()
    assert [c["input"] for c in cases["items"]] == [{"q": "a"}, {"q": "b"},
                                                     {"q": "flat object = variables"}]


async def test_bad_import_lists_rows_and_adds_nothing(client):
    ds = await make_dataset(client)
    csv_text = ("q,__expected,__threshold\n"
                "ok,contains: x,\n"
                "bad,javascript: output.length > 3,\n"
                "worse,contains: y,2\n"
                "extra,cells,,too many\n")
    r = await client.post(f"/datasets/{ds['id']}/import", files=upload("t.csv", csv_text))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == "urn:harness:problem:import-rejected" and body["file"] == "t.csv"
    rows = [(e["row"], e["field"]) for e in body["errors"]]
    assert rows == [(3, "__expected"), (4, "__threshold"), (5, None)]
    assert "javascript" in body["errors"][0]["message"]
    assert (await client.get(f"/datasets/{ds['id']}")).json()["case_count"] == 0
    jsonl = '{"input": {"q": 1}}\n{not json}\n{"input": [1]}\n'
    r = await client.post(f"/datasets/{ds['id']}/import", files=upload("x.jsonl", jsonl))
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, None), (3, "input")]
    r = await client.post(f"/datasets/{ds['id']}/import",
                          files=upload("x.txt", "hello", "text/plain"))
    assert r.status_code == 415
    r = await client.post(f"/datasets/{ds['id']}/import", files=upload("e.csv", ""))
    assert r.status_code == 422


async def test_export_round_trips(client):
    ds = await make_dataset(client)
    await client.post(f"/datasets/{ds['id']}/cases", json={"cases": [
        {"input": {"q": "a, with comma", "n": 1}, "expected_output": "A",
         "assert": [{"type": "contains", "value": "A"}], "threshold": 0.5,
         "metadata": {"description": "first"}},
        {"input": {"q": "b"}},
    ]})
    csv_body = (await client.get(f"/datasets/{ds['id']}/export", params={"format": "csv"})).text
    jsonl_body = (await client.get(f"/datasets/{ds['id']}/export")).text
    assert len(jsonl_body.strip().splitlines()) == 2
    copy = await make_dataset(client, "copy")
    r = await client.post(f"/datasets/{copy['id']}/import", files=upload("copy.csv", csv_body))
    assert r.status_code == 201, r.text
    a = (await client.get(f"/datasets/{ds['id']}/cases")).json()["items"]
    b = (await client.get(f"/datasets/{copy['id']}/cases")).json()["items"]
    keys = ("expected_output", "assert", "threshold")
    assert [[x[k] for k in keys] for x in a] == [[x[k] for k in keys] for x in b]
    assert b[0]["input"] == {"q": "a, with comma", "n": "1"}  # CSV cells are text
    copy2 = await make_dataset(client, "copy2")
    r = await client.post(f"/datasets/{copy2['id']}/import",
                          files=upload("c.jsonl", jsonl_body, "application/x-ndjson"))
    assert r.status_code == 422  # exported JSONL carries ids: "id" is not a case field
