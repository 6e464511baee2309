"""A rule-based model for Ragas's test-set prompts, served by the loopback stub
(``StubLLM.reply``): it reads the output schema's title and the input block of each
prompt and answers with what Ragas asks for, derived from the input text (summaries are
first sentences, themes and entities are capitalised words, a question asks about its
term and is answered by the first sentence of each context)."""

from __future__ import annotations

import json
import re

_SCHEMA = re.compile(r"JSON Schema:\n(.*?)Do not use single quotes", re.S)
_STOP = {"The", "A", "An", "On", "In", "If", "It", "We", "Our", "You", "After", "During",
         "Parcels", "Orders", "Customers", "Rented", "Store"}


def _input(prompt: str) -> dict:
    value, _ = json.JSONDecoder().raw_decode(prompt.rsplit("input: ", 1)[1])
    return value


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=\.)\s", text.strip(), maxsplit=1)[0]


def _keywords(text: str, limit: int = 4) -> list[str]:
    words = [w for w in re.findall(r"\b[A-Z][a-z]+\b", text) if w not in _STOP]
    return list(dict.fromkeys(words))[:limit] or ["store"]


def testset_reply(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    schema = _SCHEMA.search(prompt)
    title = json.loads(schema.group(1)).get("title") if schema else None
    data = _input(prompt) if "input: " in prompt else {}
    text = data.get("text", "")
    if title == "StringIO":  # summary
        return json.dumps({"text": _first_sentence(text)})
    if title == "ThemesAndConcepts":
        return json.dumps({"output": _keywords(text)})
    if title == "NEROutput":
        return json.dumps({"entities": _keywords(text)})
    if title == "Persona":
        return json.dumps({"name": "Outdoor shopper",
                           "role_description": "Buys camping gear and asks about orders."})
    if title == "PersonaThemesMapping":
        return json.dumps({"mapping": {p["name"]: data["themes"][:3]
                                       for p in data["personas"]}})
    if title == "ConceptCombinations":
        lists = data["lists_of_concepts"]
        return json.dumps({"combinations": [[lst[0] for lst in lists[:2]]]})
    if title == "GeneratedQueryAnswer":
        contexts = data["context"] if isinstance(data["context"], list) else [data["context"]]
        term = data.get("term") or " and ".join(data.get("themes") or [])
        return json.dumps({"query": f"What should a shopper know about {term}?",
                           "answer": " ".join(_first_sentence(c) for c in contexts)})
    return "I cannot help with that."
