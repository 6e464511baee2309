"""Running the real promptfoo CLI (for configs the built-in engine cannot run, or to
compare engines). promptfoo's current releases need Node.js 22.22 or newer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import PromptfooRunError, PromptfooUnavailable

MIN_NODE = (22, 22)
# promptfoo exits 100 when tests failed; the results file is still written.
_OK_EXIT_CODES = (0, 100)

Which = Callable[[str], str | None]


def node_version(which: Which = shutil.which) -> tuple[int, int, int] | None:
    """The installed Node.js version, or None when there is no ``node``."""
    node = which("node")
    if not node:
        return None
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=15,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else None  # type: ignore[return-value]


def promptfoo_command(*, which: Which = shutil.which,
                      node: Callable[[], tuple[int, int, int] | None] | None = None
                      ) -> list[str]:
    """How to start promptfoo here: ``promptfoo`` on PATH, else ``npx promptfoo@latest``
    when Node.js is recent enough; otherwise :class:`PromptfooUnavailable` says what is
    missing."""
    exe = which("promptfoo")
    if exe:
        return [exe]
    version = (node or (lambda: node_version(which)))()
    needed = f"Node.js ≥ {MIN_NODE[0]} ({MIN_NODE[0]}.{MIN_NODE[1]} or newer)"
    if version is None:
        raise PromptfooUnavailable(
            f"promptfoo is not installed and Node.js was not found: the promptfoo engine "
            f"needs {needed} and promptfoo (`npm install -g promptfoo`, or npx). "
            "The built-in engine (`harness eval`) needs neither.")
    if version[:2] < MIN_NODE:
        found = ".".join(map(str, version))
        raise PromptfooUnavailable(
            f"promptfoo is not installed and Node.js {found} is too old to run it: the "
            f"promptfoo engine needs {needed} and promptfoo. The built-in engine "
            "(`harness eval`) needs neither.")
    npx = which("npx")
    if not npx:
        raise PromptfooUnavailable(
            "promptfoo is not installed and `npx` was not found: install promptfoo "
            f"(`npm install -g promptfoo`; it needs {needed}).")
    return [npx, "--yes", "promptfoo@latest"]


def engine_promptfoo(
    config: Path,
    output: Path | None = None,
    *,
    no_cache: bool = False,
    timeout_s: float | None = None,
    which: Which = shutil.which,
    node: Callable[[], tuple[int, int, int] | None] | None = None,
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
    command = [*promptfoo_command(which=which, node=node), "eval", "-c", str(config),
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
