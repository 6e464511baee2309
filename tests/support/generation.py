"""Helpers of the generation tests: a rule-based question writer served by the stub, and
waiting for a generation to finish."""

from __future__ import annotations

import asyncio
import json
import re

_PASSAGE = re.compile(r'Passage \d+ \(from "([^"]+)"[^)]*\):\n"""\n(.*?)\n"""', re.S)
_KIND = re.compile(r"Write one ([\w-]+) test question")


def passages_of(body: dict) -> list[tuple[str, str]]:
    """(document, text) of each passage in the first user message that has any."""
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            found = _PASSAGE.findall(message.get("content") or "")
            if found:
                return found
    return []


def qa_reply(body: dict) -> str:
    """A question about the first sentence of the first passage, answered by it (one
    sentence per passage for multi-context questions)."""
    found = passages_of(body)
    if not found:
        return "no passages here"
    prompt = next(m["content"] for m in body["messages"] if m.get("role") == "user")
    kind = _KIND.search(prompt).group(1)
    firsts = [re.split(r"(?<=\.)\s", text.strip(), maxsplit=1)[0] for _, text in found]
    topic = " and ".join(" ".join(f.split()[:6]) for f in firsts)
    return json.dumps({"question": f"[{kind}] What do we know about {topic}?",
                       "answer": " ".join(firsts)})


async def wait_generation(client, generation_id: str, timeout: float = 60,
                          statuses=("completed", "failed")) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        g = (await client.get(f"/generations/{generation_id}")).json()
        if g["status"] in statuses:
            return g
        assert asyncio.get_running_loop().time() < deadline, f"generation still {g['status']}"
        await asyncio.sleep(0.05)
