"""A rule-based judge for Ragas prompts, served by the loopback stub (``StubLLM.reply``).

It reads the input block at the end of each Ragas prompt and answers with the JSON Ragas
asks for: statements split on sentence ends; a statement is supported when all its words
occur in the context; a context is useful when it holds most of the reference's content
words; a question generated from an answer comes from a small table.
"""

from __future__ import annotations

import json
import re

PARIS = "Paris is the capital of France. It has about 2.1 million inhabitants."
GENERATED_QUESTIONS = {
    "Paris is the capital of France.": "What is the capital of France?",
    "Bananas are rich in potassium.": "Which fruit is rich in potassium?",
}
_STOP = {"the", "a", "an", "is", "of", "and", "it", "in", "to", "what", "which", "about"}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _ragas_input(prompt: str) -> dict:
    """The JSON object after the last ``input:`` of a Ragas prompt."""
    tail = prompt.rsplit("input: ", 1)[1]
    value, _ = json.JSONDecoder().raw_decode(tail)
    return value


def judge_reply(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    data = _ragas_input(prompt)
    if set(data) == {"question", "answer"}:  # faithfulness, step 1: statements
        sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", data["answer"]) if s.strip()]
        return json.dumps({"statements": sentences})
    if set(data) == {"context", "statements"}:  # faithfulness, step 2: verdicts
        context = set(_words(data["context"]))
        return json.dumps({"statements": [
            {"statement": s, "reason": "rule", "verdict": int(set(_words(s)) <= context)}
            for s in data["statements"]
        ]})
    if set(data) == {"question", "context", "answer"}:  # context precision
        wanted = [w for w in _words(data["answer"]) if w not in _STOP]
        found = sum(1 for w in wanted if w in set(_words(data["context"])))
        useful = int(bool(wanted) and found / len(wanted) >= 0.5)
        return json.dumps({"reason": f"{found}/{len(wanted)} reference words", "verdict": useful})
    if set(data) == {"response"}:  # answer relevancy
        response = data["response"]
        if "don't know" in response.lower():
            return json.dumps({"question": "What is the capital of France?", "noncommittal": 1})
        question = GENERATED_QUESTIONS.get(response, "What is this about?")
        return json.dumps({"question": question, "noncommittal": 0})
    return "no idea"
