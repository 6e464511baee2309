"""The one Dockerfile (repository root; the SERVICE build argument picks the service):
builds from the repository root, runs as non-root, reads PORT, and for every runnable
service installs extras that exist and runs an entrypoint module that imports with them.

No Docker engine runs here, so the image is checked statically, and the install step's
shell (which extras each service gets) runs under ``sh`` with ``pip`` and ``useradd``
replaced by commands that print what they were asked (docs/deploy.md builds the image
with Cloud Build or docker where an engine exists)."""

from __future__ import annotations

import importlib
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support import processes

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
RUNNABLE = sorted(p.parent.name for p in ROOT.glob("services/*/__main__.py"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments left out."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        op, _, rest = (pending + line).partition(" ")
        out.append((op.upper(), rest.strip()))
        pending = ""
    return out


def install_step(service: str, tmp_path: Path) -> tuple[int, str, str]:
    """Run the Dockerfile's install step for ``service``: (exit code, the pip and useradd
    commands it ran, its error output)."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    for command in ("pip", "useradd"):
        (fake / command).write_text(f'#!/bin/sh\necho "{command} $*"\n')
        (fake / command).chmod(0o755)
    step = next(rest for op, rest in instructions(DOCKERFILE)
                if op == "RUN" and "pip install" in rest)
    done = processes.run(["sh", "-c", step], timeout=30, capture_output=True, text=True,
                         env={"PATH": f"{fake}:/usr/bin:/bin", "SERVICE": service})
    return done.returncode, done.stdout, done.stderr


def extras_of(service: str, tmp_path: Path) -> tuple[list[str], str]:
    """The extras the image of ``service`` installs, and the whole pip command."""
    code, out, err = install_step(service, tmp_path)
    assert code == 0, err
    pip = next(line for line in out.splitlines() if line.startswith("pip install"))
    assert "useradd --create-home --uid 10001 harness" in out
    extras = re.fullmatch(r"pip install \.\[([\w,]+)\]( --extra-index-url \S+)?", pip)
    assert extras, pip
    return extras.group(1).split(","), pip


def test_one_dockerfile_for_every_runnable_service():
    assert RUNNABLE and DOCKERFILE.is_file()
    assert not list(ROOT.glob("services/*/Dockerfile")), "one Dockerfile: the root one"


def test_dockerfile_shape_and_entrypoint():
    ins = instructions(DOCKERFILE)
    ops = [op for op, _ in ins]
    assert ops[0] == "FROM" and "python:3.11" in ins[0][1]
    assert ("ARG", "SERVICE") in ins
    copies = [rest.split()[0] for op, rest in ins if op == "COPY"]
    for src in copies:  # paths are relative to the repository root (the build context)
        assert (ROOT / src).exists(), f"COPY {src} is not in the repository"
    users = [rest for op, rest in ins if op == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must run as non-root"
    env = " ".join(rest for op, rest in ins if op == "ENV")
    assert re.search(r"\bPORT=\d+", env) and "HARNESS_SERVICE=${SERVICE}" in env
    cmd = next(rest for op, rest in reversed(ins) if op == "CMD")
    # exec: python replaces the shell, so it is PID 1 and gets Cloud Run's SIGTERM
    assert cmd == '["sh", "-c", "exec python -m services.$HARNESS_SERVICE"]'


@pytest.mark.parametrize("service", RUNNABLE)
def test_each_service_builds_and_its_entrypoint_imports(service: str, tmp_path: Path):
    extras, pip = extras_of(service, tmp_path)
    # offline embeddings bring torch: from PyTorch's CPU index, not PyPI's CUDA build
    assert ("--extra-index-url https://download.pytorch.org/whl/cpu" in pip) == \
        ("embeddings" in extras)
    importlib.import_module(f"services.{service}.__main__")  # what CMD runs imports


@pytest.mark.parametrize("service", ["", "nope"])
def test_a_missing_or_unknown_service_fails_the_build(service: str, tmp_path: Path):
    code, out, err = install_step(service, tmp_path)
    assert code != 0 and "pip" not in out
    assert "--build-arg SERVICE=registry|runner|scorer|generator|gateway|studio" in err


@pytest.mark.parametrize("service", RUNNABLE)
def test_image_requirements_resolve(service: str, tmp_path: Path):
    """Every requirement the image installs (core + the extras its pip install names) is
    satisfied by one consistent set of installed distributions."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras_of(service, tmp_path)[0]:
        assert extra in project["optional-dependencies"], f"unknown extra {extra}"
        reqs += project["optional-dependencies"][extra]
    for spec in reqs:
        req = Requirement(spec)
        version = metadata.version(req.name)
        assert req.specifier.contains(version, prereleases=True), f"{req} vs {version}"
