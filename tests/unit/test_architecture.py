"""The dependency rules of docs/architecture.md, read from the source (no imports run).

- The library (``libs/harness``) imports no service.
- A service (``services/<name>/``) imports no other service's modules; the shared
  plumbing directly under ``services/`` (``serve``, ``worker_service``, ...) imports none.
- One composition root (``services/bootstrap.py``) and the CLI that fronts it
  (``services/cli.py``) may import every service; a service's ``__main__`` may hand over
  to the root.
- A route module imports no other route module and holds no SQL.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
LIBRARY = ROOT / "libs" / "harness"
ROOTS = {"services.bootstrap", "services.cli"}


def is_plumbing(name: str | None) -> bool:
    """A module directly under ``services/`` other than the root: shared by services."""
    return bool(name) and name.startswith("services.") and name not in ROOTS


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name of the importing file
    imported: str  # dotted module name imported (``from a import b`` gives ``a.b``)
    where: str  # path:line


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT / "libs" if path.is_relative_to(LIBRARY) else ROOT)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[Import]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [Import(name, a.name, where) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found += [Import(name, f"{module}.{a.name}", where) for a in node.names]
    return found


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def service_of(module: str) -> str | None:
    """``services.registry.routes.runs`` -> ``registry``; plumbing directly under
    ``services/`` -> its own dotted name."""
    parts = module.split(".")
    if parts[0] != "services" or len(parts) < 2:
        return None
    if (SERVICES / parts[1]).is_dir():
        return parts[1]
    return f"services.{parts[1]}"


def test_the_library_imports_no_service():
    bad = [i.where + " " + i.imported for p in python_files(LIBRARY) for i in imports_of(p)
           if i.imported == "services" or i.imported.startswith("services.")]
    assert bad == []


def test_no_service_imports_another_services_modules():
    bad = []
    for path in python_files(SERVICES):
        importer = module_name(path)
        own = service_of(importer)
        if importer in ROOTS:
            continue
        for i in imports_of(path):
            target = service_of(i.imported)
            if target is None or target == own or is_plumbing(target):
                continue
            if path.name == "__main__.py" and target in ROOTS:
                continue  # an entry point hands over to the composition root
            bad.append(f"{i.where} {importer} -> {i.imported}")
    assert bad == []


def test_only_the_composition_root_and_cli_know_several_services():
    knowers = {}
    for path in python_files(SERVICES):
        importer = module_name(path)
        targets = {service_of(i.imported) for i in imports_of(path)}
        targets -= {None, service_of(importer)}
        targets = {t for t in targets if not is_plumbing(t)}
        if len(targets) > 1:
            knowers[importer] = sorted(targets)
    assert set(knowers) <= ROOTS, knowers


ROUTE_PACKAGES = [SERVICES / name / "routes" for name in ("registry", "gateway")]
ROUTE_FILES = [p for folder in ROUTE_PACKAGES if folder.is_dir()
               for p in python_files(folder) if p.name != "__init__.py"]


def is_route_helper(name: str) -> bool:
    """``deps`` and private ``_modules`` in a routes package hold what its routes share
    (dependencies, request steps); they are not routes themselves."""
    return name == "deps" or name.startswith("_")


ROUTE_MODULES = [p for p in ROUTE_FILES if not is_route_helper(p.stem)]


@pytest.mark.parametrize("path", ROUTE_MODULES, ids=lambda p: str(p.relative_to(SERVICES)))
def test_a_route_module_imports_no_other_route_module(path: Path):
    package = module_name(path).rpartition(".")[0]
    me = module_name(path)
    bad = [f"{i.where} {i.imported}" for i in imports_of(path)
           if i.imported.startswith(package + ".") and not i.imported.startswith(me)
           and not is_route_helper(i.imported.split(".")[len(package.split("."))])]
    assert bad == []


# SQL here is written in capitals; prose ("Select a prompt from the list") is not SQL
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b",
                 re.DOTALL)


@pytest.mark.parametrize("path", ROUTE_FILES, ids=lambda p: str(p.relative_to(SERVICES)))
def test_a_route_module_holds_no_sql(path: Path):
    strings = [n for n in ast.walk(ast.parse(path.read_text()))
               if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    bad = [f"{path.relative_to(ROOT)}:{n.lineno}" for n in strings if SQL.search(n.value)]
    assert bad == []


def test_the_rules_see_violations():
    """The checks above are only worth something if they would catch a breach."""
    fake = SERVICES / "runner" / "x.py"
    assert service_of("services.registry.routes.runs") == "registry"
    assert service_of("services.serve") == "services.serve"
    assert module_name(fake) == "services.runner.x"
    assert SQL.search("SELECT id FROM runs WHERE x = $1")
    assert SQL.search("INSERT INTO t VALUES (1)")
    assert not SQL.search("Select a prompt from the list")
