"""The built-in offline ``echo`` model: answers with the prompt it was given."""

from __future__ import annotations

import json
import math
from typing import Any

from harness.content_parts import text_of

ECHO_MODEL = "echo"


def is_echo(model: str) -> bool:
    return model == ECHO_MODEL


def estimate_tokens(text: str) -> int:
    """Rough token count without a tokenizer: about four characters a token."""
    return math.ceil(len(text) / 4) if text else 0


def _text_only(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    return {**message, "content": text_of(content)} if isinstance(content, list) else message


def echo_output(messages: list[dict[str, Any]]) -> str:
    """The text the model was given. One message: its content (a list of parts: its text
    parts, one a line; images, audio and files are not echoed); several: the JSON of the
    messages, like promptfoo's echo provider, each list of parts as its text parts."""
    if len(messages) == 1:
        content = messages[0].get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return text_of(content)
        return json.dumps(content, ensure_ascii=False)
    return json.dumps([_text_only(m) if isinstance(m, dict) else m for m in messages],
                      ensure_ascii=False)


def prompt_text(messages: list[dict[str, Any]]) -> str:
    return echo_output(messages)
