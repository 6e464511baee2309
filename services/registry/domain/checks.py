"""Checks of values several aggregates take (assertion lists, LLM options): each raises
:class:`~.errors.Invalid` naming the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.assertions import parse_assertions
from harness.llm import options

from .errors import Invalid


def check_assertions(raw: list[dict[str, Any]], field: str) -> None:
    try:
        parse_assertions(raw)
    except ValueError as exc:
        raise Invalid(f"{field}: {exc}", field=field) from exc


def check_llm_options(params: Mapping[str, Any], field: str,
                      allowed: frozenset[str] = options.LLM_OPTIONS) -> None:
    """Refuses the first name in ``params`` that is not an allowed LLM option
    (``targets.0.params.api_base``): endpoints and credentials come from server
    configuration only (see ``harness.llm.options``)."""
    try:
        options.check_options(params, field, allowed)
    except options.OptionRefused as exc:
        raise Invalid(str(exc), field=exc.field) from exc
