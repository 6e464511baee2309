"""The built-in offline ``echo`` model: answers with the prompt it was given."""

from __future__ import annotations

import json
import math
from typing import Any

ECHO_MODEL = "echo"


def is_echo(model: str) -> bool:
    return model == ECHO_MODEL


def estimate_tokens(text: str) -> int:
    """Rough token count without a tokenizer: about four characters a token."""
    return math.ceil(len(text) / 4) if text else 0


def echo_output(messages: list[dict[str, Any]]) -> str:
    """One message: its content (text parts joined if it is a list of parts);
    several: the JSON of the messages, like promptfoo's echo provider."""
    if len(messages) == 1:
        content = messages[0].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list) and all(
            isinstance(p, dict) and p.get("type") == "text" for p in content
        ):
            return "".join(str(p.get("text", "")) for p in content)
        return json.dumps(content, ensure_ascii=False)
    return json.dumps(messages, ensure_ascii=False)


def prompt_text(messages: list[dict[str, Any]]) -> str:
    return echo_output(messages)
