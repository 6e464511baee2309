"""A config's ``prompts``: inline text or chat messages, ``file://`` paths and globs
(``.txt`` split on ``---`` lines, ``.md``, ``.j2``, ``.json`` / ``.yaml``, ``.jsonl``,
``.csv``), ``{id, label, raw, config}`` objects and the legacy ``{path: label}`` map."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import templating

from ._context import (
    CODE_EXTENSIONS,
    GLOB_CHARS,
    KNOWN_FILE_EXTENSIONS,
    LoadContext,
    glob_files,
    json_compact,
    strip_file,
)
from .files import read_structured
from .plan import PromptSpec

Content = str | list[dict[str, Any]]
Make = Callable[[str, str, Content], PromptSpec]  # (raw, label, content) -> a prompt


def load_prompts(ctx: LoadContext, raw: Any) -> list[PromptSpec]:
    """The config's prompts, in order; a warning when two share a label."""
    if raw is None:
        ctx.warnings.append("prompts: none given, using '{{prompt}}'")
        raw = ["{{prompt}}"]
    out: list[PromptSpec] = []
    for spec, where in _prompt_items(ctx, raw):
        config = spec.get("config") or {}
        if not isinstance(config, dict):
            raise ctx.error("must be a mapping", f"{where}.config")
        label = spec.get("label")
        if label is not None and not isinstance(label, str):
            raise ctx.error("must be a string", f"{where}.label")
        out.extend(_prompts_from(ctx, spec["raw"], label, spec.get("id"), config, where))
    labels = [p.label for p in out]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        ctx.warnings.append(f"prompts: several prompts share the label {dupes[0]!r}; "
                            "give them distinct labels")
    return out


def _prompt_items(ctx: LoadContext, raw: Any) -> list[tuple[dict, str]]:
    """(prompt object with ``raw``, location) for every entry of ``prompts``."""
    if isinstance(raw, str):
        return [({"raw": raw}, "prompts")]
    if isinstance(raw, dict):  # legacy {path: label}
        return [({"raw": k, "label": v}, f"prompts.{k}") for k, v in raw.items()]
    if not isinstance(raw, list):
        raise ctx.error(f"must be a string, a list or a mapping, got {type(raw).__name__}",
                        "prompts")
    if not raw:
        raise ctx.error("must not be empty", "prompts")
    items = []
    for i, item in enumerate(raw):
        where = f"prompts[{i}]"
        if isinstance(item, str):
            items.append(({"raw": item}, where))
        elif isinstance(item, dict):
            if not isinstance(item.get("raw", item.get("id")), str):
                raise ctx.error("a prompt object needs 'raw' (the text or a file:// path) or "
                                "'id'", where)
            items.append(({**item, "raw": item.get("raw") or item["id"]}, where))
        else:
            raise ctx.error(f"must be a string or an object, got {type(item).__name__}", where)
    return items


def _maybe_file_path(text: str) -> bool:
    """promptfoo's test for "this prompt string names a file"."""
    if "\n" in text:
        return False
    if text.startswith("file://"):
        return True
    tokens = text.split(":")
    if any(t.endswith(ext) for t in tokens[-2:] for ext in KNOWN_FILE_EXTENSIONS):
        return True
    return (len(text) >= 4 and (text[-3] == "." or text[-4] == ".")) or any(
        c in text for c in "*/\\")


def _prompts_from(ctx: LoadContext, raw: str, label: str | None, pid: str | None,
                  config: dict, where: str) -> list[PromptSpec]:
    explicit = raw.startswith("file://")
    if raw.startswith("exec:") or (
            (explicit or _maybe_file_path(raw))
            and re.search(r"\.(js|cjs|mjs|ts|py|sh|bash|rb|pl|exe|bat|cmd|ps1|go)"
                          r"(:[\w.]+)?$", raw)):
        raise ctx.error(f"prompt functions and executables ({raw!r}) are not supported; "
                        "use a text, Markdown, JSON or YAML prompt file", where)
    if not explicit and not _maybe_file_path(raw):
        return [_inline_prompt(ctx, raw, label, pid, config, where)]
    ref = strip_file(raw)
    target = ctx.resolve(ref)
    if GLOB_CHARS.search(ref):
        found = glob_files(target)
        if not found:
            if explicit:
                raise ctx.error(f"no files match {raw!r}", where)
            # promptfoo too: a glob that matches nothing is the prompt text itself
            return [_inline_prompt(ctx, raw, label, pid, config, where)]
        out = []
        for path in found:
            rel = ctx.rel(path)
            out.extend(_prompts_from_file(
                ctx, path, rel, f"{label}: {rel}" if label else None,
                f"{pid}:{rel}" if pid else None, config, where))
        return out
    if not target.is_file():
        if explicit:
            raise ctx.error(f"prompt file not found: {raw!r} (looked for {target})", where)
        raise ctx.error(
            f"{raw!r} looks like a file path to promptfoo (it has no newline and contains "
            "'/', '\\', '*' or a file extension) but there is no such file; promptfoo "
            "refuses it too. For an inline prompt, use a block scalar (|) with more than "
            "one line", where)
    return _prompts_from_file(ctx, target, Path(ref).as_posix(), label, pid, config, where)


def _as_messages(value: Any) -> list[dict[str, Any]] | None:
    """``value`` as chat messages if it is a non-empty list of {role, content: text}."""
    if (isinstance(value, list) and value
            and all(isinstance(m, dict) and isinstance(m.get("role"), str)
                    and isinstance(m.get("content"), str) for m in value)):
        return [dict(m) for m in value]
    return None


def _inline_prompt(ctx: LoadContext, raw: str, label: str | None, pid: str | None,
                   config: dict, where: str) -> PromptSpec:
    content: Content = raw
    stripped = raw.strip()
    if stripped.startswith("["):
        try:
            content = _as_messages(json.loads(stripped)) or raw
        except ValueError:
            content = raw
    return _make_prompt(ctx, raw, label if label is not None else raw, content, pid, config,
                        where)


def _make_prompt(ctx: LoadContext, raw: str, label: str, content: Content, pid: str | None,
                 config: dict, where: str) -> PromptSpec:
    # The template itself is not checked here: as in promptfoo, a template that cannot
    # render makes its rows errors when they run.
    if isinstance(content, list):
        try:
            templating.validate_messages(content)
        except ValueError as exc:
            raise ctx.error(f"invalid chat prompt: {exc}", where) from exc
    return PromptSpec(raw=raw, label=label, content=content, id=pid, config=dict(config))


def _prompts_from_file(ctx: LoadContext, path: Path, shown: str, label: str | None,
                       pid: str | None, config: dict, where: str) -> list[PromptSpec]:
    suffix = path.suffix.lower()
    file_where = f"{where} ({shown})"
    if suffix in CODE_EXTENSIONS:
        raise ctx.error(f"prompt functions and executables ({suffix}) are not supported; "
                        "use a text, Markdown, JSON or YAML prompt file", file_where)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ctx.error(f"cannot read prompt file: {exc}", file_where) from exc
    reader = _FILE_READERS.get(suffix)
    if reader is None:
        raise ctx.error(f"unsupported prompt file type {suffix!r}", file_where)

    def make(raw: str, lab: str, content: Content) -> PromptSpec:
        return _make_prompt(ctx, raw, lab, content, pid, config, file_where)

    out = reader(ctx, path, text, shown, label, make)
    if not out:
        raise ctx.error("there are no prompts in this file", file_where)
    return out


def _labelled(label: str | None, shown: str, text: str) -> str:
    return f"{label}: {shown}: {text}" if label else f"{shown}: {text}"


def _text_prompts(ctx: LoadContext, path: Path, text: str, shown: str, label: str | None,
                  make: Make) -> list[PromptSpec]:
    """``.txt``: one prompt per part between separator lines (``---``)."""
    separator = os.environ.get("PROMPTFOO_PROMPT_SEPARATOR") or "---"
    chunks, buf = [], []
    for line in re.split(r"\r?\n", text):
        if line.strip() == separator:
            chunks.append("\n".join(buf).strip())
            buf = []
        else:
            buf.append(line)
    chunks.append("\n".join(buf).strip())
    return [make(c, _labelled(label, shown, c), c) for c in chunks if c]


def _whole_file_prompt(ctx: LoadContext, path: Path, text: str, shown: str,
                       label: str | None, make: Make) -> list[PromptSpec]:
    """``.md`` and ``.j2``: the file is one prompt."""
    return [make(text, label or f"{shown}: {text[:50]}...", text)]


def _structured_prompt(ctx: LoadContext, path: Path, text: str, shown: str,
                       label: str | None, make: Make) -> list[PromptSpec]:
    """``.json`` / ``.yaml``: a string, chat messages, or any value (as compact JSON)."""
    parsed = read_structured(path, shown=shown)
    if isinstance(parsed, str):
        raw, content = parsed, parsed
    else:
        raw = json_compact(parsed)
        content = _as_messages(parsed) or raw
    shown_raw = raw if path.suffix.lower() == ".json" else raw[:80]
    return [make(raw, label or f"{shown}: {shown_raw}", content)]


def _json_lines_prompts(ctx: LoadContext, path: Path, text: str, shown: str,
                        label: str | None, make: Make) -> list[PromptSpec]:
    """``.jsonl``: one prompt per line."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except ValueError as exc:
            raise ctx.error(f"invalid JSON: {exc}", f"line {n}", file=shown) from exc
        raw = json_compact(parsed)
        out.append(make(raw, _labelled(label, shown, raw), _as_messages(parsed) or raw))
    return out


def _csv_prompts(ctx: LoadContext, path: Path, text: str, shown: str, label: str | None,
                 make: Make) -> list[PromptSpec]:
    """``.csv``: one prompt per row (its ``prompt`` column, else the first; ``label``)."""
    from ..csv_tests import read_csv_rows

    out = []
    for n, row in enumerate(read_csv_rows(text, file=shown), start=1):
        value = row.get("prompt")
        if value is None:
            value = next(iter(row.values()), None)
        if not value:
            raise ctx.error("no prompt text (use a 'prompt' column)", f"row {n}", file=shown)
        out.append(make(value, row.get("label") or _labelled(label, shown, value), value))
    return out


_FILE_READERS: dict[str, Callable[..., list[PromptSpec]]] = {
    "": _text_prompts, ".txt": _text_prompts,
    ".md": _whole_file_prompt, ".j2": _whole_file_prompt,
    ".json": _structured_prompt, ".yaml": _structured_prompt, ".yml": _structured_prompt,
    ".jsonl": _json_lines_prompts,
    ".csv": _csv_prompts,
}
