"""The studio's Prompts page shows each environment's weighted split (read-only), against
a real registry served over HTTP on real PostgreSQL."""

from __future__ import annotations

from tests.support.studio import page, run, texts


async def test_the_environments_tab_shows_a_split(reg):
    pid = (await reg.post("/prompts", json={"name": "greeter", "content": "Hi"})).json()["id"]
    await reg.post(f"/prompts/{pid}/versions", json={"content": "Hello"})
    r = await reg.put(f"/prompts/{pid}/environments/production/split",
                      json={"variants": [{"version": 1, "weight": 90},
                                         {"version": 2, "weight": 10}],
                            "reason": "canary v2"})
    assert r.status_code == 200, r.text
    at = await run(page("prompts", prompt=pid))
    [envs] = [d.value for d in at.dataframe if "environment" in d.value.columns]
    [row] = envs.to_dict("records")
    assert (row["environment"], row["version"], row["split"], row["sticky by"],
            row["split by"], row["reason"]) == (
        "production", "v1", "v1 90% · v2 10%", "user", "seed", "canary v2")
    assert "A split environment sends each stickiness key" in texts(at)
    history = at.dataframe[-1].value
    assert list(history["what"])[0] == "split production: v1 90% · v2 10%"
