import io
import time


async def test_100k_row_csv_imports_in_one_request(client):
    ds = (await client.post("/datasets", json={"name": "big"})).json()
    lines = ["question,context,__expected"]
    lines += [f"question {i},some context for row {i},contains: {i}" for i in range(100_000)]
    body = ("\n".join(lines) + "\n").encode()
    started = time.perf_counter()
    r = await client.post(f"/datasets/{ds['id']}/import",
                          files={"file": ("big.csv", io.BytesIO(body), "text/csv")},
                          timeout=600)
    took = time.perf_counter() - started
    assert r.status_code == 201, r.text
    assert r.json()["imported"] == 100_000
    got = (await client.get(f"/datasets/{ds['id']}")).json()
    assert got["case_count"] == 100_000
    page = (await client.get(f"/datasets/{ds['id']}/cases",
                             params={"offset": 99_999, "limit": 5})).json()
    assert page["items"][0]["input"]["question"] == "question 99999"
    assert page["items"][0]["assert"] == [{"type": "contains", "value": "99999"}]
    print(f"100k rows imported in {took:.1f}s ({len(body) / 1e6:.1f} MB)")


async def test_100k_rows_with_one_bad_row_adds_nothing(client):
    ds = (await client.post("/datasets", json={"name": "big-bad"})).json()
    lines = ["question,__threshold"] + [f"q{i}," for i in range(100_000)]
    lines[77_778] = "q77777,not-a-number"
    body = ("\n".join(lines) + "\n").encode()
    r = await client.post(f"/datasets/{ds['id']}/import",
                          files={"file": ("big.csv", io.BytesIO(body), "text/csv")},
                          timeout=600)
    assert r.status_code == 422
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(77_779, "__threshold")]
    assert (await client.get(f"/datasets/{ds['id']}")).json()["case_count"] == 0
