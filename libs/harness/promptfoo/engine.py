"""Running the real promptfoo CLI (for configs the built-in engine cannot run, or to
compare engines). promptfoo 0.123.1 needs Node.js 22.22 or newer: see :mod:`.node`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import PromptfooRunError, PromptfooUnavailable
from .node import (
    MIN_NODE,
    PROMPTFOO_VERSION,
    NodeMissing,
    auto_install_allowed,
    install_promptfoo,
    installed_promptfoo,
)
from .node import node_version as _node_version

# promptfoo exits 100 when tests failed; the results file is still written.
_OK_EXIT_CODES = (0, 100)

Which = Callable[[str], str | None]


def node_version(which: Which = shutil.which) -> tuple[int, int, int] | None:
    """The version of ``node`` on PATH, or None when there is none."""
    node = which("node")
    return _node_version(node) if node else None


def promptfoo_command(*, which: Which = shutil.which,
                      node: Callable[[], tuple[int, int, int] | None] | None = None,
                      installed: list[Path] | None = None,
                      install: bool | None = None,
                      progress: Callable[[str], None] = print) -> list[str]:
    """How to start promptfoo here, in order: ``promptfoo`` on PATH; the private install
    (``.harness/promptfoo/bin/promptfoo``, Node 22 included); installing it there with
    tools/promptfoo/install.sh (``install``, default on unless HARNESS_PROMPTFOO_INSTALL=0;
    prints progress); ``npx promptfoo@0.123.1`` when Node.js ≥ 22.22 is on PATH. Otherwise
    :class:`PromptfooUnavailable` says what is missing."""
    exe = which("promptfoo")
    if exe:
        return [exe]
    wrapper = installed_promptfoo(installed)
    if wrapper is not None:
        return [str(wrapper)]
    version = (node or (lambda: node_version(which)))()
    needed = f"Node.js ≥ {MIN_NODE[0]}.{MIN_NODE[1]}"
    recent = version is not None and version[:2] >= MIN_NODE
    install = auto_install_allowed() if install is None else install
    problem = ""
    if install and not recent:
        try:
            return [str(install_promptfoo(progress=progress))]
        except NodeMissing as exc:
            problem = f" Installing it failed: {exc}"
    if recent:
        npx = which("npx")
        if npx:
            return [npx, "--yes", f"promptfoo@{PROMPTFOO_VERSION}"]
        raise PromptfooUnavailable(
            "promptfoo is not installed and `npx` was not found: install promptfoo "
            f"(tools/promptfoo/install.sh, or `npm install -g promptfoo@{PROMPTFOO_VERSION}`)."
            + problem)
    if version is None:
        raise PromptfooUnavailable(
            f"promptfoo is not installed and Node.js was not found: the promptfoo engine "
            f"needs {needed} and promptfoo (tools/promptfoo/install.sh installs both into "
            ".harness/promptfoo). The built-in engine (`harness eval`) needs neither."
            + problem)
    found = ".".join(map(str, version))
    raise PromptfooUnavailable(
        f"promptfoo is not installed and Node.js {found} is too old to run it: the "
        f"promptfoo engine needs {needed} and promptfoo (tools/promptfoo/install.sh installs "
        "both into .harness/promptfoo). The built-in engine (`harness eval`) needs neither."
        + problem)


def engine_promptfoo(
    config: Path,
    output: Path | None = None,
    *,
    no_cache: bool = False,
    timeout_s: float | None = None,
    which: Which = shutil.which,
    node: Callable[[], tuple[int, int, int] | None] | None = None,
    progress: Callable[[str], None] = print,
) -> Path:
    """Run ``promptfoo eval -c CONFIG -o OUTPUT`` and return the results file (JSON).

    ``output`` defaults to a new temporary ``.json`` file. Exit codes 0 (all passed) and
    100 (some tests failed) both count as a completed run. Raises
    :class:`PromptfooUnavailable` when promptfoo cannot be started (no promptfoo on PATH
    and no Node.js ≥ 22) and :class:`PromptfooRunError` when it ran without writing
    results."""
    config = Path(config).resolve()
    if not config.exists():
        raise FileNotFoundError(f"promptfoo config not found: {config}")
    if output is None:
        fd, name = tempfile.mkstemp(prefix="promptfoo-results-", suffix=".json")
        os.close(fd)
        output = Path(name)
        output.unlink()
    output = Path(output).resolve()
    command = [*promptfoo_command(which=which, node=node, progress=progress), "eval", "-c",
               str(config),
               "-o", str(output), "--no-progress-bar"]
    if no_cache:
        command.append("--no-cache")
    env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1",
           "PROMPTFOO_DISABLE_UPDATE": "1"}
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              cwd=config.parent if config.is_file() else config, env=env,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise PromptfooRunError(f"promptfoo did not finish within {timeout_s} s") from exc
    except OSError as exc:
        raise PromptfooUnavailable(f"cannot start promptfoo ({command[0]}): {exc}") from exc
    if proc.returncode not in _OK_EXIT_CODES or not output.is_file():
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-20:])
        raise PromptfooRunError(
            f"promptfoo exited with code {proc.returncode}"
            + ("" if output.is_file() else " without writing results")
            + (f":\n{tail}" if tail else ""))
    return output
