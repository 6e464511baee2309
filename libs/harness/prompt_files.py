"""Prompts as files in a repository: ``harness prompts export DIR`` / ``sync DIR``.

One YAML file per prompt::

    name: support-reply
    description: Replies to customer questions
    content:                 # a text, or chat messages
      - role: system
        content: You support {{ product }}.
    config:                  # optional: the version's model and LLM options
      model: gpt-4o-mini
      temperature: 0
      response_format: {type: json_object}
    activate: false          # sync: also activate the new version (policy permitting)

Export writes the active version (or an environment's) and records which one as
``version``. Sync creates missing prompts and adds a version when the file's content
differs from the version it was exported from (``version``; a file without one is
compared with the active version) and from every version after it, so an untouched
export syncs as a no-op whatever happened since (a rollback, environments moved) and a
file synced once is not added again. The new version is derived from the exported one
and its diff is against it. ``--dry-run`` prints the diffs and writes nothing. Talks to
the registry's REST API only.

``config`` (checked as the registry checks it, ``harness.prompt_config``) is part of what
is compared when the file has one: a changed config alone makes a new version. A file
without ``config`` leaves it to the registry (a new version keeps the config of the one it
is derived from); export writes it when the version has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness import prompt_config, templating
from harness.textdiff import unified_diff


class PromptFileError(ValueError):
    pass


@dataclass
class SyncChange:
    file: Path
    name: str
    action: str  # "create" | "new-version" | "unchanged"
    diff: str = ""
    version: int | None = None
    note: str = ""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "prompt"


def _ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text
        raise PromptFileError(f"{r.request.method} {r.request.url.path}: {r.status_code} "
                              f"{detail}")
    return r.json()


def _all(client: httpx.Client, path: str) -> list[dict]:
    items: list[dict] = []
    while True:
        page = _ok(client.get(path, params={"limit": 500, "offset": len(items)}))
        items += page["items"]
        if len(items) >= page["total"] or not page["items"]:
            return items


def _config_text(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=True, allow_unicode=True) if config else ""


def _same_version(version: dict[str, Any], doc: dict[str, Any]) -> bool:
    """A stored version is what the file says: its content, and its config when the file
    has one."""
    return _same(version["content"], doc["content"]) and (
        "config" not in doc or (version.get("config") or {}) == doc["config"])


def _same(a: Any, b: Any) -> bool:
    """Equal prompt contents (chat messages compared on role and content, as stored)."""
    def norm(c: Any) -> Any:
        if isinstance(c, list):
            return [{"role": m.get("role"), "content": m.get("content")}
                    if isinstance(m, dict) else m for m in c]
        return c
    return norm(a) == norm(b)


def export_prompts(client: httpx.Client, folder: Path,
                   environment: str | None = None) -> list[Path]:
    """One file per prompt with its active version, or the version ``environment``
    points at (prompts where it points at none are skipped)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for summary in _all(client, "/prompts"):  # summaries: the content is on the item
        p = _ok(client.get(f"/prompts/{summary['id']}"))
        envs = _ok(client.get(f"/prompts/{p['id']}/environments"))["environments"]
        version = p["active_version"]
        content = p["active"]["content"] if p["active"] else ""
        if environment is not None:
            version = (envs.get(environment) or {}).get("version")
            if version is None:
                continue
            content = _ok(client.get(f"/prompts/{p['id']}/versions/{version}"))["content"]
        config = p["active"]["config"] if p["active"] else {}
        if environment is not None:
            config = _ok(client.get(f"/prompts/{p['id']}/versions/{version}"))["config"]
        doc = {"name": p["name"], "description": p["description"], "content": content,
               **({"config": config} if config else {}), "version": version,
               "environments": {k: v["version"] for k, v in envs.items() if v["version"]}}
        path = folder / f"{_slug(p['name'])}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        written.append(path)
    return written


def load_file(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise PromptFileError(f"{path}: not YAML: {exc}") from exc
    if not isinstance(doc, dict) or not doc.get("name") or "content" not in doc:
        raise PromptFileError(f"{path}: needs at least 'name' and 'content'")
    try:
        templating.validate(doc["content"])
    except ValueError as exc:
        raise PromptFileError(f"{path}: content: {exc}") from exc
    if "config" in doc:
        try:
            doc["config"] = prompt_config.check_config(doc["config"] or {})
        except prompt_config.ConfigError as exc:
            raise PromptFileError(f"{path}: {exc}") from exc
    return doc


def _base_version(doc: dict[str, Any], current: dict[str, Any],
                  versions: dict[int, dict]) -> int:
    """The version a file was exported from (its ``version``), else the active one."""
    exported = doc.get("version")
    if isinstance(exported, int) and not isinstance(exported, bool) and exported in versions:
        return exported
    return current.get("active_version") or current["latest_version"]


def sync_prompts(client: httpx.Client, folder: Path, *, dry_run: bool = False
                 ) -> list[SyncChange]:
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    docs = [(f, load_file(f)) for f in files]  # all files are checked before any write
    existing = {p["name"].lower(): p for p in _all(client, "/prompts")}
    changes: list[SyncChange] = []
    for path, doc in docs:
        current = existing.get(str(doc["name"]).lower())
        new_text = templating.as_text(doc["content"])
        if current is None:
            diff = unified_diff("", new_text, "(none)", f"{doc['name']} v1")
            change = SyncChange(path, doc["name"], "create", diff, 1)
            if not dry_run:
                _ok(client.post("/prompts", json={
                    "name": doc["name"], "description": doc.get("description", ""),
                    "content": doc["content"], "change_note": f"synced from {path.name}",
                    **({"config": doc["config"]} if "config" in doc else {})}))
            changes.append(change)
            continue
        versions = {v["version"]: v for v in _all(client,
                                                  f"/prompts/{current['id']}/versions")}
        base = _base_version(doc, current, versions)
        read: dict[int, dict] = {}

        def version_of(n: int, pid: str = current["id"], cache: dict = read) -> dict:
            """Lists carry no content: read a version when it is compared."""
            if n not in cache:
                cache[n] = _ok(client.get(f"/prompts/{pid}/versions/{n}"))
            return cache[n]

        def content_of(n: int) -> Any:
            return version_of(n)["content"]

        synced = next((n for n in sorted(versions) if n >= base
                       and _same_version(version_of(n), doc)), None)
        if synced is not None:  # the exported version itself, or already synced since
            changes.append(SyncChange(path, doc["name"], "unchanged", version=synced))
            continue
        old_text = templating.as_text(content_of(base))
        number = current["latest_version"] + 1
        diff = unified_diff(old_text, new_text, f"{doc['name']} v{base}",
                            f"{doc['name']} v{number}")
        if "config" in doc:
            diff += unified_diff(_config_text(version_of(base).get("config") or {}),
                                 _config_text(doc["config"]), f"{doc['name']} v{base} config",
                                 f"{doc['name']} v{number} config")
        change = SyncChange(path, doc["name"], "new-version", diff, number)
        if not dry_run:
            created = _ok(client.post(f"/prompts/{current['id']}/versions", json={
                "content": doc["content"], "change_note": f"synced from {path.name}",
                "derived_from": base, **({"config": doc["config"]} if "config" in doc else {})}))
            change.version = created["version"]
            if doc.get("activate"):
                r = client.put(f"/prompts/{current['id']}/versions/{created['version']}"
                               "/activate", json={"reason": f"synced from {path.name}"})
                change.note = "activated" if r.status_code < 400 else \
                    f"not activated: {r.json().get('detail')}"
        changes.append(change)
    return changes
