"""Each service's Dockerfile: builds from the repository root, runs as non-root, reads
PORT, and its entrypoint module imports with the requirements it installs.

No Docker engine runs here, so the image is checked statically (docs/deploy.md builds it
with Cloud Build or docker where an engine exists)."""

from __future__ import annotations

import importlib
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(ROOT.glob("services/*/Dockerfile"))


def instructions(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_every_runnable_service_has_a_dockerfile():
    runnable = {p.parent.name for p in ROOT.glob("services/*/__main__.py")}
    assert runnable and runnable == {p.parent.name for p in DOCKERFILES}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfile_shape_and_entrypoint(dockerfile: Path):
    ins = instructions(dockerfile)
    ops = [op for op, _ in ins]
    assert ops[0] == "FROM" and "python:3.11" in ins[0][1]
    copies = [rest.split()[0] for op, rest in ins if op == "COPY"]
    for src in copies:  # paths are relative to the repository root (the build context)
        assert (ROOT / src).exists(), f"{dockerfile}: COPY {src} is not in the repository"
    users = [rest for op, rest in ins if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must run as non-root"
    env = " ".join(rest for op, rest in ins if op == "ENV")
    assert re.search(r"\bPORT=\d+", env) and f"HARNESS_SERVICE={dockerfile.parent.name}" in env
    cmd = next(rest for op, rest in reversed(ins) if op == "CMD")
    module = re.search(r'"-m",\s*"([\w.]+)"', cmd).group(1)
    assert module == f"services.{dockerfile.parent.name}"
    importlib.import_module(f"{module}.__main__")  # the entrypoint imports


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_requirements_resolve(dockerfile: Path):
    """Every requirement the image installs (core + the extras named in its pip install)
    is satisfied by one consistent set of installed distributions."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_line = next(rest for op, rest in instructions(dockerfile)
                    if op == "RUN" and "pip install" in rest)
    extras = re.search(r"\.\[([\w,]+)\]", pip_line)
    reqs = list(project["dependencies"])
    for extra in (extras.group(1).split(",") if extras else []):
        assert extra in project["optional-dependencies"], f"unknown extra {extra}"
        reqs += project["optional-dependencies"][extra]
    for spec in reqs:
        req = Requirement(spec)
        version = metadata.version(req.name)
        assert req.specifier.contains(version, prereleases=True), f"{req} vs {version}"
