"""Response cache: the port, an in-process LRU, and the cache key."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

from .models import LLMRequest

# Credentials change nothing about the answer: leave them out of the key.
_SECRET_PARAMS = frozenset(
    {
        "api_key", "azure_ad_token", "aws_access_key_id", "aws_secret_access_key",
        "aws_session_token", "vertex_credentials", "extra_headers", "headers",
    }
)
_KEY_VERSION = "harness.llm.cache/v1"


@runtime_checkable
class ResponseCache(Protocol):
    async def get(self, key: str) -> dict | None: ...

    async def set(self, key: str, value: dict) -> None: ...


class MemoryCache:
    """In-process LRU cache of response dicts (values are copied in and out)."""

    def __init__(self, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._data: OrderedDict[str, dict] = OrderedDict()

    async def get(self, key: str) -> dict | None:
        value = self._data.get(key)
        if value is None:
            return None
        self._data.move_to_end(key)
        return copy.deepcopy(value)

    async def set(self, key: str, value: dict) -> None:
        self._data[key] = copy.deepcopy(value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data


def _stable(value: Any) -> Any:
    """JSON-safe form of ``value`` with a deterministic shape (pydantic models, sets...)."""
    if hasattr(value, "model_dump"):
        return _stable(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): _stable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_stable(v) for v in value), key=repr)
    if isinstance(value, type):  # e.g. a pydantic class as response_format
        schema = getattr(value, "model_json_schema", None)
        return schema() if schema else value.__qualname__
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def cache_key(req: LLMRequest) -> str:
    """sha256 (hex) over the model, sampling parameters, params (less credentials, with
    the model's ``model_params`` merged), messages and ``cache_salt``, as canonical JSON."""
    params = req.params_for(req.model)
    payload = {
        "v": _KEY_VERSION,
        "model": req.model,
        "messages": req.messages,
        "temperature": req.temperature,
        "max_tokens": req.max_tokens,
        "top_p": req.top_p,
        "params": {k: v for k, v in params.items() if k not in _SECRET_PARAMS},
        "salt": req.cache_salt,
    }
    text = json.dumps(
        _stable(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        allow_nan=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
