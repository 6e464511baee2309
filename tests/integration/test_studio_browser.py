"""The studio in a real browser: headless Chromium (Debian's package, driven by Playwright)
against a real Streamlit server and a real registry + runner on PostgreSQL, through the
whole story — create a prompt, add a version, import a dataset, run it, compare, activate,
then the production loop: review the run's LLM calls in an annotation queue, find one on
the Traces page with its scores and make it a test case.
A screenshot of each step goes to .harness/test-artifacts/studio/."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from harness.net import free_port
from services.studio import launch
from tests.support import processes

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".harness" / "test-artifacts" / "studio"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture
async def studio(live_stack_url):
    """``streamlit run`` as ``harness up`` starts it, pointed at the registry."""
    port = free_port()
    env = {**os.environ, "HARNESS_URL": live_stack_url}
    env.pop("HARNESS_API_KEY", None)
    proc = processes.spawn(launch.command("127.0.0.1", port), env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=60) as c:
            for _ in range(1200):  # a hang guard
                try:
                    if (await c.get(f"{url}/_stcore/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, proc.stderr.read()
                await asyncio.sleep(0.1)
        yield url
    finally:
        processes.stop(proc)


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


class Studio:
    """A person at the browser: labels, buttons and tabs, as they read on screen."""

    def __init__(self, page, base: str) -> None:
        self.page, self.base = page, base
        self.step = 0

    async def open(self, path: str) -> None:
        await self.page.goto(f"{self.base}/{path}")
        await self.page.get_by_role("heading", level=1).first.wait_for()
        await self.settle()

    async def settle(self) -> None:
        """Wait until the app is not running its script any more."""
        await self.page.wait_for_timeout(300)
        await self.page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden",
                                                                             timeout=30000)
        await self.page.wait_for_timeout(200)

    def main(self):
        return self.page.locator('[data-testid="stMain"]')

    async def fill(self, label: str, text: str, *, scope=None) -> None:
        box = (scope or self.main()).get_by_label(label, exact=True).locator("visible=true")
        await box.fill(text)
        await box.press("Tab")  # Streamlit takes the value when the field loses focus
        await self.settle()

    async def click(self, name: str, *, scope=None) -> None:
        await (scope or self.main()).get_by_role("button", name=name).locator(
            "visible=true").first.click()
        await self.settle()

    async def tab(self, name: str) -> None:
        await self.main().get_by_role("tab", name=name).click()
        await self.settle()

    async def choose(self, label: str, option: str) -> None:
        """Pick ``option`` in a selectbox or multiselect (type to filter, then click)."""
        widget = self.main().locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]'
                                     ).filter(has_text=label).locator("visible=true").first
        await widget.locator("input").click()
        await widget.locator("input").fill(option)
        await self.page.get_by_role("option", name=option).first.click()
        await self.page.keyboard.press("Escape")
        await self.settle()

    async def expect_text(self, text: str) -> None:
        await self.main().get_by_text(text).first.wait_for(timeout=30000)

    async def expect_cell(self, text: str) -> None:
        """A cell of a table (drawn on a canvas; its accessible copy is in the page)."""
        await self.main().get_by_role("gridcell", name=text, exact=True,
                                        include_hidden=True).first.wait_for(
            state="attached", timeout=30000)

    async def shot(self, name: str) -> Path:
        self.step += 1
        path = SHOTS / f"{self.step:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


async def test_whole_story_in_the_browser(studio, browser, live_stack_url, tmp_path):
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    # tall: Streamlit scrolls inside its main block, so a screenshot shows the viewport
    page = await browser.new_page(viewport={"width": 1400, "height": 2400})
    s = Studio(page, studio)
    try:
        await _story(s, page, live_stack_url, tmp_path)
    except BaseException:
        await page.screenshot(path=str(SHOTS / "failed-here.png"), full_page=True)
        raise
    assert len(list(SHOTS.glob("*.png"))) == 15


async def _story(s: Studio, page, live_stack_url: str, tmp_path: Path) -> None:

    # 1. create a prompt (Prompts is the studio's home page, at /)
    await s.open("")
    await s.expect_text("No prompts yet.")
    await s.main().get_by_text("New prompt").click()
    await s.fill("Name", "support-reply")
    await s.fill("Template", "You support {{ product }}. Answer: {{ question }}")
    await s.click("Create prompt")
    await s.expect_text("Created support-reply (v1 is active).")
    await s.shot("prompt-created")

    # 2. add a version through the editor
    await s.tab("Edit → new version")
    panel = s.main().get_by_role("tabpanel").locator("visible=true")
    await s.fill("Template", "You support {{ product }}. Be brief. Answer: {{ question }}",
                 scope=panel)
    await s.fill("Change note (required)", "ask for brevity", scope=panel)
    await s.click("Save as new version", scope=panel)
    await s.expect_text("Saved v2.")
    await s.tab("Versions")
    await s.expect_text("v1 → v2: +1 −1 lines")
    await s.shot("version-added-diff")

    # 3. a dataset from a CSV file, with a preview first
    csv = tmp_path / "questions.csv"
    csv.write_text("product,question,__expected\n"
                   "harness,How do I roll back?,icontains: roll back\n"
                   "harness,Is it short?,icontains: brief\n")
    await s.open("datasets")
    await s.main().get_by_text("New dataset").click()
    await s.fill("Name", "support-questions")
    await s.click("Create dataset")
    await s.expect_text("Created support-questions.")
    await s.tab("Import")
    await s.main().locator('input[type="file"]').set_input_files(str(csv))
    await s.settle()
    await s.expect_text("2 rows (CSV)")
    await s.shot("dataset-import-preview")
    await s.click("Import 2 rows")
    await s.expect_text("Imported 2 cases; the dataset has 2.")
    await s.shot("dataset-imported")

    # 4. run both versions on echo and follow it to the end
    await s.open("runs")
    await s.choose("Prompts", "support-reply")
    await s.choose("Versions and applications", "support-reply v2 — ask for brevity")
    await s.choose("Versions and applications", "support-reply v1 (active) — initial version")
    await s.click("Start run")
    await s.expect_text("Run started: 4 results to record.")
    await s.expect_text("support-questions — ✅ completed")
    await s.expect_text("75.0% of cases pass")
    await s.shot("run-results")
    run_id = page.url.split("run=")[1].split("&")[0]

    # 5. compare: the pivot, then decide and activate v2 with a reason and a confirmation
    await s.open(f"compare?run={run_id}")
    await s.expect_text("Best: support-reply v2 on echo")
    await s.shot("compare-pivot")
    await s.tab("Trend & decide")
    await s.fill("Reason for activate v2", "passes every case on the golden questions")
    await s.click("Activate v2…")
    await s.expect_text("Confirm:")
    await s.shot("activate-confirm")
    await s.click("Yes, activate v2")
    await s.expect_text("v2 of support-reply is now active.")
    await s.shot("activated")
    async with httpx.AsyncClient(timeout=60, base_url=live_stack_url) as c:
        [prompt] = (await c.get("/prompts")).json()["items"]
        assert prompt["active_version"] == 2
        history = (await c.get(f"/prompts/{prompt['id']}/history")).json()["items"]
        assert history[-1]["note"] == "passes every case on the golden questions"

    # 6. the playground and usage pages render too
    await s.open("playground")
    await s.fill("product", "harness")
    await s.fill("question", "Where are the docs?")
    await s.click("▶ Run")
    await s.expect_text("✅ Pass")
    await s.shot("playground")
    await s.open("usage")
    await s.shot("usage")

    # 7. an annotation queue of two of the run's LLM calls, worked one item at a time
    async with httpx.AsyncClient(timeout=60, base_url=live_stack_url) as c:
        traced = await _runner_traces(c, at_least=2)
        r = await c.post("/score-configs", json={
            "name": "quality", "data_type": "numeric", "min_value": 1, "max_value": 5})
        assert r.status_code == 201, r.text
        r = await c.post("/queues", json={"name": "support review",
                                          "score_configs": ["quality"]})
        assert r.status_code == 201, r.text
        queue = r.json()
        picked = [t["id"] for t in traced[:2]]
        r = await c.post(f"/queues/{queue['id']}/items", json={"trace_ids": picked})
        assert r.status_code == 201 and r.json()["added"] == 2, r.text
    await s.open("annotate")
    await s.expect_text("0 of 2 done · 2 pending")
    await s.expect_text("Request (masked)")
    await s.shot("annotate-first-item")
    await s.fill("quality", "4")
    await s.fill("Comment", "clear and short")
    await s.click("Save and next")
    await s.expect_text("Saved 1 score(s).")
    await s.expect_text("1 of 2 done · 1 pending")
    await s.shot("annotate-next-item")
    await s.fill("quality", "2")
    await s.click("Save and next")
    await s.expect_text("Every item of this queue is done.")
    await s.shot("annotate-done")
    async with httpx.AsyncClient(timeout=60, base_url=live_stack_url) as c:
        done = (await c.get(f"/queues/{queue['id']}")).json()
        assert (done["done_count"], done["pending"]) == (2, 0)
        scored = {t: [x["value"] for x in (await c.get(f"/traces/{t}")).json()["scores"]]
                  for t in picked}
        assert sorted(v for vs in scored.values() for v in vs) == [2, 4]
        good = next(t for t, vs in scored.items() if vs == [4])

    # 8. the Traces page: filter to the runner's calls, open the one scored 4, see its
    # score, and make it a case of the dataset
    await s.open("traces")
    await s.choose("Source", "runner")
    await s.expect_text("traces, newest first")
    await s.choose("Open a trace", good[:8])
    await s.expect_text(f"Trace {good}")
    await s.expect_text("Scores")
    await s.expect_cell("clear and short")  # the reviewer's comment, beside the score
    await s.expect_cell("4")
    await s.shot("trace-with-score")
    await s.main().get_by_text("Add to dataset").first.click()
    await s.settle()
    await s.choose("Dataset", "support-questions")
    await s.click("Add to dataset")
    await s.expect_text("Added 1 case(s) to support-questions.")
    await s.shot("trace-added-to-dataset")
    async with httpx.AsyncClient(timeout=60, base_url=live_stack_url) as c:
        [ds] = [d for d in (await c.get("/datasets")).json()["items"]
                if d["name"] == "support-questions"]
        cases = (await c.get(f"/datasets/{ds['id']}/cases")).json()["items"]
        assert len(cases) == 3
        assert [c_ for c_ in cases if good in json.dumps(c_)], cases  # its provenance


async def _runner_traces(c: httpx.AsyncClient, at_least: int) -> list[dict]:
    """The runner's stored LLM calls (written off the request path: waited for)."""
    for _ in range(600):  # a hang guard
        items = (await c.get("/traces", params={"source": "runner"})).json()["items"]
        if len(items) >= at_least:
            return items
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} runner traces stored")
