"""Domain errors know no HTTP; the registry's web edge gives each its status and type."""

from __future__ import annotations

import importlib
import pkgutil

import services.registry.domain as domain_package
import services.registry.handlers as handlers_package
from services.registry.domain.errors import DomainError, Invalid
from services.registry.domain.governance import SelfApproval
from services.registry.problem_types import PROBLEM_TYPES, problem_type


def _subclasses(cls: type) -> set[type]:
    return {s for c in cls.__subclasses__() for s in {c, *_subclasses(c)}}


def test_every_domain_error_has_its_own_status_and_type():
    for package in (domain_package, handlers_package):
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
    unmapped = {c.__name__ for c in _subclasses(DomainError)
                if c.__module__.startswith("services.registry") and c not in PROBLEM_TYPES}
    assert not unmapped
    assert not any(hasattr(c, "status") for c in _subclasses(DomainError))


def test_an_error_answers_with_its_class_or_its_nearest_base():
    class Narrower(Invalid):
        pass

    assert problem_type(Invalid("x")) == (422, "invalid")
    assert problem_type(Narrower("x")) == (422, "invalid")
    assert problem_type(SelfApproval("x")) == (403, "self-approval")
