"""The key's PII policy applied to chat messages and embedding inputs (harness.pii)."""

from __future__ import annotations

from typing import Any


class PIIUnavailable(Exception):
    pass


def _pii():
    try:
        from harness import pii
    except ImportError as exc:  # the package is optional at import time
        raise PIIUnavailable(str(exc)) from exc
    return pii


def _texts(messages: list[dict[str, Any]]) -> list[tuple[int, int | None, str]]:
    """(message index, part index or None, text) of every text in the messages."""
    out = []
    for i, m in enumerate(messages):
        c = m.get("content")
        if isinstance(c, str):
            out.append((i, None, c))
        elif isinstance(c, list):
            for j, part in enumerate(c):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    out.append((i, j, part["text"]))
    return out


def apply_to_messages(messages: list[dict[str, Any]], policy: str
                      ) -> tuple[list[dict[str, Any]], str, dict[str, int]]:
    """Masked copies of ``messages``, the action ("none" | "passed" | "masked") and the
    counts per kind. Under ``block`` raises ``harness.pii.PIIBlocked``."""
    if policy == "off":
        return messages, "none", {}
    pii = _pii()
    texts = _texts(messages)
    results = pii.apply_policy_many([t for _, _, t in texts], policy, where="messages")
    out = [dict(m) for m in messages]
    counts: dict[str, int] = {}
    for (i, j, _), r in zip(texts, results, strict=True):
        for k, n in r.counts.items():
            counts[k] = counts.get(k, 0) + n
        if not r.changed:
            continue
        if j is None:
            out[i]["content"] = r.text
        else:
            parts = [dict(p) for p in out[i]["content"]]
            parts[j]["text"] = r.text
            out[i]["content"] = parts
    return out, ("masked" if counts else "passed"), counts


def apply_to_texts(texts: list[str], policy: str) -> tuple[list[str], str, dict[str, int]]:
    if policy == "off":
        return texts, "none", {}
    pii = _pii()
    results = pii.apply_policy_many(texts, policy, where="input")
    counts: dict[str, int] = {}
    for r in results:
        for k, n in r.counts.items():
            counts[k] = counts.get(k, 0) + n
    return [r.text for r in results], ("masked" if counts else "passed"), counts


def mask_for_storage(text: str | None, policy: str) -> str | None:
    """What is stored of a response: masked unless the key's policy is ``off``."""
    if text is None or policy == "off":
        return text
    return _pii().mask(text).text


def mask_value_for_storage(value: Any, policy: str) -> Any:
    """``value`` (JSON: strings inside lists and objects) as stored: every string masked
    unless the key's policy is ``off``."""
    if policy == "off":
        return value
    mask = _pii().mask

    def scrub(v: Any) -> Any:
        if isinstance(v, str):
            return mask(v).text
        if isinstance(v, list):
            return [scrub(x) for x in v]
        if isinstance(v, dict):
            return {k: scrub(x) for k, x in v.items()}
        return v

    return scrub(value)
