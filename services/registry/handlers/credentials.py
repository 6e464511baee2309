"""Whether a model can be called from this process: a run's targets and a generation's
model are refused when they are requested, not case by case later, when the process that
will call them (the local stack: this one) lacks the provider's key."""

from __future__ import annotations

from harness.config import get_settings
from harness.evaluation.models import Target
from harness.evaluation.providers import to_litellm_model
from harness.llm.credentials import missing_credentials

from ..domain.errors import DomainError


class MissingCredentials(DomainError):
    """The model's provider needs environment variables this process does not have."""


def missing_key(model: str, params: dict) -> list[str]:
    """What ``model`` lacks to be called from here: the runner merges the server's
    deployment (HARNESS_LLM_DEPLOYMENTS) over the target's params, so does this."""
    try:
        litellm_model = to_litellm_model(model)
    except ValueError:  # an unknown provider id: the runner reports it per case
        return []
    deployments = get_settings().llm_deployments
    deployment = deployments.get(litellm_model, deployments.get("*")) or {}
    return missing_credentials(litellm_model, {**params, **deployment})


def missing_credentials_error(model: str, missing: list[str], field: str,
                              caller: str = "runs the targets") -> MissingCredentials:
    names = " or ".join(missing)
    return MissingCredentials(
        f"{field}: model {model!r} needs provider credentials: set {names} in the "
        f"environment of the process that {caller} (`harness up`), or choose another model",
        field=field, model=model, env_vars=missing)


def refuse_unconfigured(target: Target, where: str) -> None:
    """Refuses a target when no model of its chain has its provider's key here."""
    missing = [missing_key(m, target.params) for m in [target.model, *target.fallback_models]]
    if all(missing):
        raise missing_credentials_error(target.model, missing[0], f"{where}.model")


def refuse_model_without_key(model: str, params: dict, field: str, caller: str) -> None:
    missing = missing_key(model, params)
    if missing:
        raise missing_credentials_error(model, missing, field, caller)
