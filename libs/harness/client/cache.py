"""The client's caches: entries in memory and, optionally, JSON files on disk.

Disk files are written atomically (a temporary file in the same folder, fsync, rename), so
a crash leaves either the old or the new file, never half of one. One file per cache key;
the file name is a hash of the key, the key itself is stored inside.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .models import PromptVersion, Resolved

Kind = Literal["app", "prompt"]
FORMAT = 1


@dataclass
class Entry:
    kind: Kind
    ref: str                    # what the caller asked for: app name or id, prompt name or id
    version: int | None         # prompts: a pinned version (immutable) or None (the active one)
    value: Resolved | PromptVersion
    origin: Literal["registry", "disk"]
    checked_at: float = float("-inf")   # monotonic time the registry last confirmed it
    stale: bool = False                 # an event said it may have changed

    def fresh(self, ttl_s: float) -> bool:
        if self.stale or self.origin != "registry":
            return False
        if self.kind == "prompt" and self.version is not None and not any(
                r.get("environment") for r in self.value.references):
            return True  # versions are immutable (unless they reference an environment)
        return time.monotonic() - self.checked_at < ttl_s

    @property
    def prompt_id(self) -> str | None:
        return self.value.prompt_id

    @property
    def application_id(self) -> str | None:
        return self.value.application_id if isinstance(self.value, Resolved) else None


def cache_key(kind: Kind, ref: str, version: int | None = None) -> str:
    ref = ref.strip().lower()
    if kind == "app":
        return f"app:{ref}"
    return f"prompt:{ref}@{version if version is not None else 'active'}"


class DiskCache:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        kind = key.split(":", 1)[0]
        return self.root / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def load(self, key: str) -> Entry | None:
        path = self._path(key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # unreadable: as if absent (it is rewritten on the next fetch)
        if doc.get("format") != FORMAT or doc.get("key") != key:
            return None
        model = Resolved if doc["kind"] == "app" else PromptVersion
        try:
            value = model.model_validate(doc["value"])
        except ValueError:
            return None
        return Entry(kind=doc["kind"], ref=doc["ref"], version=doc.get("version"),
                     value=value, origin="disk")

    def store(self, key: str, entry: Entry) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        doc: dict[str, Any] = {
            "format": FORMAT, "key": key, "kind": entry.kind, "ref": entry.ref,
            "version": entry.version, "saved_at": datetime.now(UTC).isoformat(),
            "value": entry.value.model_dump(mode="json", exclude={"source", "stale"}),
        }
        path = self._path(key)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
