import asyncio
from datetime import UTC, datetime

CHAT = [{"role": "system", "content": "You support {{ product }}."},
        {"role": "user", "content": "{{ question }}"}]


async def make(client, name="greet", content="Hello {{ name }}", **kw):
    r = await client.post("/prompts", json={"name": name, "content": content, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def is_problem(r, status, slug):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == f"urn:harness:problem:{slug}" and body["status"] == status
    return body


async def test_create_get_list_search(client):
    p = await make(client, "support-reply", CHAT, description="answers")
    await make(client, "other")
    assert p["active"]["version"] == 1 and p["active"]["is_active"]
    assert p["active"]["variables"] == ["product", "question"]
    got = (await client.get(f"/prompts/{p['id']}")).json()
    assert got["name"] == "support-reply" and got["active"]["content"] == CHAT
    page = (await client.get("/prompts", params={"q": "SUPPORT"})).json()
    assert [i["name"] for i in page["items"]] == ["support-reply"] and page["total"] == 1
    page = (await client.get("/prompts", params={"limit": 1, "offset": 1})).json()
    assert page["total"] == 2 and [i["name"] for i in page["items"]] == ["support-reply"]


async def test_duplicate_name_is_409_and_nothing_written(client):
    await make(client, "dup")
    is_problem(await client.post("/prompts", json={"name": "DUP", "content": "x"}), 409,
               "already-exists")
    events = (await client.get("/events")).json()["items"]
    assert len(events) == 3  # only the first prompt's three events


async def test_bad_bodies_are_422_with_field(client):
    body = is_problem(await client.post("/prompts", json={"name": "x"}), 422, "validation-error")
    assert body["errors"][0]["field"] == "content"
    body = is_problem(await client.post("/prompts", json={"name": "x", "content": "{{ oops"}),
                      422, "invalid")
    assert body["field"] == "content"
    body = is_problem(await client.post("/prompts", json={
        "name": "x", "content": [{"role": "wizard", "content": "hi"}]}), 422, "validation-error")
    assert "content" in body["errors"][0]["field"]


async def test_unknown_ids_are_404(client):
    is_problem(await client.get("/prompts/nope"), 404, "not-found")
    is_problem(await client.post("/prompts/nope/versions", json={"content": "x"}), 404,
               "not-found")
    p = await make(client)
    is_problem(await client.get(f"/prompts/{p['id']}/versions/9"), 404, "not-found")
    is_problem(await client.put(f"/prompts/{p['id']}/versions/9/activate", json={}), 404,
               "not-found")


async def test_versions_activate_rollback_diff(client):
    p = await make(client, content="Hello {{ name }}")
    pid = p["id"]
    v2 = (await client.post(f"/prompts/{pid}/versions", json={
        "content": "Hi {{ name }}, welcome to {{ place }}", "change_note": "warmer"})).json()
    assert v2["version"] == 2 and not v2["is_active"] and v2["change_note"] == "warmer"
    assert (await client.get(f"/prompts/{pid}")).json()["active_version"] == 1
    r = await client.put(f"/prompts/{pid}/versions/2/activate", json={"reason": "approved"})
    assert r.json()["active_version"] == 2
    v3 = (await client.post(f"/prompts/{pid}/versions",
                            json={"content": "Yo {{ name }}", "activate": True})).json()
    assert v3["version"] == 3 and v3["is_active"]
    versions = (await client.get(f"/prompts/{pid}/versions")).json()
    assert [v["version"] for v in versions["items"]] == [1, 2, 3]
    assert [v["is_active"] for v in versions["items"]] == [False, False, True]
    # rollback = activating an older version
    r = await client.put(f"/prompts/{pid}/versions/1/activate", json={"reason": "rollback"})
    assert r.json()["active"]["content"] == "Hello {{ name }}"
    one = (await client.get(f"/prompts/{pid}/versions/2")).json()
    assert one["content"] == "Hi {{ name }}, welcome to {{ place }}"
    diff = (await client.get(f"/prompts/{pid}/diff", params={"from": 1, "to": 2})).json()
    lines = diff["diff"].splitlines()  # one line each, though neither text ends in a newline
    assert "-Hello {{ name }}" in lines and "+Hi {{ name }}, welcome to {{ place }}" in lines
    assert diff["variables_added"] == ["place"] and diff["variables_removed"] == []
    diff_active = (await client.get(f"/prompts/{pid}/diff", params={"from": 3})).json()
    assert diff_active["to_version"] == 1


async def test_history_records_actor_time_and_notes(client):
    p = await make(client, change_note="first draft")
    pid = p["id"]
    await client.post(f"/prompts/{pid}/versions", json={"content": "v2", "change_note": "n2"},
                      headers={"X-Actor": "bob"})
    await client.put(f"/prompts/{pid}/versions/2/activate", json={"reason": "ship it"},
                     headers={"X-Actor": "carol"})
    await client.patch(f"/prompts/{pid}", json={"description": "better"})
    h = (await client.get(f"/prompts/{pid}/history")).json()["items"]
    assert [e["type"] for e in h] == ["PromptCreated", "PromptVersionCreated",
                                      "PromptVersionActivated", "PromptVersionCreated",
                                      "PromptVersionActivated", "PromptUpdated"]
    assert h[1]["note"] == "first draft"
    assert (h[3]["actor"], h[3]["note"]) == ("bob", "n2")
    assert (h[4]["actor"], h[4]["note"], h[4]["previous_version"]) == ("carol", "ship it", 1)
    assert h[0]["actor"] == "local" and all(e["at"] for e in h)


async def test_render(client):
    p = await make(client, content=CHAT)
    pid = p["id"]
    r = await client.post(f"/prompts/{pid}/render",
                          json={"variables": {"product": "harness", "question": "why?"}})
    assert r.json()["messages"][0]["content"] == "You support harness."
    body = is_problem(await client.post(f"/prompts/{pid}/render", json={"variables": {}}), 422,
                      "missing-variables")
    assert body["missing"] == ["product", "question"]
    await client.post(f"/prompts/{pid}/versions", json={"content": "plain {{ x }}"})
    r = await client.post(f"/prompts/{pid}/render", json={"version": 2, "variables": {"x": 1}})
    assert r.json()["rendered"] == "plain 1" and r.json()["version"] == 2


async def test_as_of_matches_what_the_api_returned_then(client):
    p = await make(client, content="v1")
    pid = p["id"]
    snapshots = []
    for i in range(2, 5):
        await asyncio.sleep(0.02)
        snapshots.append((datetime.now(UTC), (await client.get(f"/prompts/{pid}")).json()))
        await asyncio.sleep(0.02)
        await client.post(f"/prompts/{pid}/versions", json={"content": f"v{i}",
                                                            "activate": i % 2 == 0})
    await client.put(f"/prompts/{pid}/versions/1/activate", json={})
    for at, then in snapshots:
        past = (await client.get(f"/prompts/{pid}", params={"as_of": at.isoformat()})).json()
        assert past == then
    before = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    is_problem(await client.get(f"/prompts/{pid}", params={"as_of": before}), 404, "not-found")


async def test_patch_prompt_and_rename_conflict(client):
    p = await make(client, "a")
    await make(client, "b")
    r = await client.patch(f"/prompts/{p['id']}", json={"name": "a2", "description": "d"})
    assert r.json()["name"] == "a2"
    is_problem(await client.patch(f"/prompts/{p['id']}", json={"name": "b"}), 409,
               "already-exists")
    assert (await client.get(f"/prompts/{p['id']}")).json()["name"] == "a2"


async def test_openapi_docs(client):
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert "/prompts/{prompt_id}/versions/{version}/activate" in spec["paths"]
