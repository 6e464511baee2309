async def test_create_prompt(client):
    r = await client.post("/prompts", json={"name": "greet", "content": "Hello {{ name }}"})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["active_version"] == 1
    assert p["active"]["variables"] == ["name"]
