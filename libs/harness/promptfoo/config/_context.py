"""What every part of reading one config shares: where the config is, the warnings so
far, errors that name the file and the field, and paths relative to the file that names
them."""

from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import ConfigError

CODE_EXTENSIONS = (".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".py", ".sh", ".bash",
                   ".rb", ".pl", ".exe", ".bat", ".cmd", ".ps1", ".go")
KNOWN_FILE_EXTENSIONS = (".txt", ".md", ".j2", ".json", ".jsonl", ".yaml", ".yml", ".csv",
                         *CODE_EXTENSIONS)
GLOB_CHARS = re.compile(r"[*?\[]")


class LoadContext:
    """One config being read: its path and folder, and the warnings collected so far."""

    def __init__(self, config_path: Path) -> None:
        self.path = config_path
        self.base = config_path.parent
        self.shown = str(config_path)
        self.warnings: list[str] = []

    def error(self, message: str, location: str | None = None, *,
              file: Path | str | None = None) -> ConfigError:
        return ConfigError(message, file=file or self.shown, location=location)

    def resolve(self, ref: str, base: Path | None = None) -> Path:
        p = Path(os.path.expanduser(strip_file(ref)))
        return p if p.is_absolute() else (base or self.base) / p

    def matches(self, ref: str, where: str, *, base: Path | None = None,
                file: str | None = None) -> list[Path]:
        """The files a path or glob names (sorted); an error when there are none."""
        target = self.resolve(ref, base)
        if GLOB_CHARS.search(strip_file(ref)):
            found = glob_files(target)
            if not found:
                raise self.error(f"no files match {ref!r}", where, file=file)
            return found
        if not target.is_file():
            raise self.error(f"file not found: {ref!r} (looked for {target})", where,
                             file=file)
        return [target]

    def rel(self, path: Path) -> str:
        """``path`` as shown in messages: relative to the config's folder when inside it."""
        try:
            return path.resolve().relative_to(self.base.resolve()).as_posix()
        except ValueError:
            return path.as_posix()


def glob_files(pattern: Path) -> list[Path]:
    """The files (not folders) a glob matches, sorted; ``**`` spans folders."""
    return sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())


def strip_file(ref: str) -> str:
    return ref[len("file://"):] if ref.startswith("file://") else ref


def json_compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
