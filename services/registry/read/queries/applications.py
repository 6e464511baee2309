"""Reads of applications, and what one resolves to (``ResolvedOut``): from the read models
now, or folded from the events up to a moment (``as_of``)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import asyncpg
import orjson

from harness import prompt_config, rollout
from harness.events import streams
from harness.eventstore import EventStore
from harness.web.problems import ProblemError

from ...domain import applications
from ...domain.composition import Composed, Node
from ...domain.errors import NotFound
from ...domain.prompts import pointer
from ...schemas import (
    ApplicationOut,
    Page,
    ResolvedOut,
    SplitOut,
    SplitVariantOut,
)
from . import composition
from .governance import set_by
from .prompts import prompt_state

_RESOLVE_SQL = """
SELECT a.id AS application_id, a.name AS application, a.model_id AS model, a.temperature,
       a.max_tokens, a.top_p, a.fallback_models, a.environment, p.id AS prompt_id,
       p.name AS prompt_name, v.version, v.content, v.variables, v.config, v.refs,
       s.variants AS split_variants, s.sticky_by
  FROM applications a
  JOIN prompts p ON p.id = a.prompt_id
  LEFT JOIN prompt_environments e ON e.prompt_id = a.prompt_id
       AND e.environment = a.environment
  LEFT JOIN prompt_splits s ON s.prompt_id = a.prompt_id AND s.environment = a.environment
  LEFT JOIN prompt_versions v ON v.prompt_id = a.prompt_id
       AND v.version = CASE WHEN a.environment = 'production' THEN p.active_version
                            ELSE e.version END
 WHERE a.id = $1
"""


def _is_id(ref: str) -> bool:
    try:
        uuid.UUID(ref)
    except ValueError:
        return False
    return True


async def application_id_of(pool: asyncpg.Pool, ref: str) -> str:
    """The id of the application ``ref`` names: its id, or its name (any case), as the
    CLI and the SDK take either. An id is used as it is (no query: the resolve cache
    answers it)."""
    if _is_id(ref):
        return ref
    found = await pool.fetchval("SELECT id FROM applications WHERE lower(name) = lower($1)",
                                ref)
    if found is None:
        raise NotFound(f"no application with id or name {ref!r}")
    return found


async def get_application(pool: asyncpg.Pool, ref: str) -> ApplicationOut:
    """``ref``: the application's id or its name."""
    row = await pool.fetchrow("SELECT * FROM applications WHERE id = $1",
                              await application_id_of(pool, ref))
    if row is None:
        raise NotFound(f"application {ref} not found")
    return ApplicationOut(**dict(row))


async def list_applications(pool: asyncpg.Pool, limit: int, offset: int
                            ) -> Page[ApplicationOut]:
    total = await pool.fetchval("SELECT count(*) FROM applications")
    rows = await pool.fetch("SELECT * FROM applications ORDER BY name LIMIT $1 OFFSET $2",
                            limit, offset)
    return Page(items=[ApplicationOut(**dict(r)) for r in rows], total=total, limit=limit,
                offset=offset)


def _in_effect(name: str, model: str | None, temperature: float | None,
               max_tokens: int | None, top_p: float | None, config: dict
               ) -> tuple[str, dict]:
    """The model and params the application runs: its own over its version's config over
    the defaults (``harness.prompt_config.in_effect``)."""
    chosen, params = prompt_config.in_effect(
        config, model=model,
        params={"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p})
    if chosen is None:
        raise ProblemError(409, "model-unset", f"application {name!r} names no model and "
                           "its prompt version's config has none: set the application's "
                           "model_id or the version's config.model")
    return chosen, params


def _environment_unset(detail: str, environment: str | None = None) -> ProblemError:
    extra = {} if environment is None else {"environment": environment}
    return ProblemError(409, "environment-unset", detail, **extra)


def _runs(name: str, app: dict, composed: Composed, config: dict) -> dict:
    """What a version runs under the application (``app``: its model, temperature,
    max_tokens and top_p): its content (references expanded) and variables, the versions
    its references resolved to, its config, and the model and params in effect."""
    model, params = _in_effect(name, app["model"], app["temperature"], app["max_tokens"],
                               app["top_p"], config)
    return {"content": composed.content, "variables": composed.variables,
            "references": composition.references_out(composed), "config": config,
            "model": model, "params": params}


def _split(variants: list[dict], sticky_by: str, versions: dict[int, dict]) -> SplitOut:
    """A split's variants with what each version runs (``versions``: version -> its
    :func:`_runs`): a key's variant replaces the top-level version, config, model and
    params (``harness.rollout.for_key``)."""
    return SplitOut(sticky_by=sticky_by, variants=[
        SplitVariantOut(version=v["version"], weight=v["weight"],
                        share=rollout.share(v, variants), **versions[v["version"]])
        for v in variants])


async def resolve(pool: asyncpg.Pool, application_id: str) -> ResolvedOut:
    """What the application runs now (its environment's version; production = active),
    with its environment's split when it has one."""
    row = await pool.fetchrow(_RESOLVE_SQL, application_id)
    if row is None:
        raise NotFound(f"application {application_id} not found")
    if row["version"] is None:
        raise _environment_unset(f"environment {row['environment']!r} of prompt "
                                 f"{row['prompt_name']!r} points at no version",
                                 row["environment"])
    d = dict(row)
    app = {k: d.pop(k) for k in ("model", "temperature", "max_tokens", "top_p")}
    variants, sticky_by = d.pop("split_variants"), d.pop("sticky_by")
    lookup = composition.read_model_lookup(pool)

    async def composed_version(number: int, content, refs) -> Composed:
        return await composition.compose(
            Node.of(d["prompt_id"], d["prompt_name"], number, content, refs), lookup)

    if variants:  # versions are immutable: read apart, they still match the split
        rows = await pool.fetch(
            "SELECT version, content, config, refs FROM prompt_versions "
            "WHERE prompt_id = $1 AND version = ANY($2::int[])", d["prompt_id"],
            [v["version"] for v in variants])
        d["split"] = _split(variants, sticky_by, {
            r["version"]: _runs(d["application"], app, await composed_version(
                r["version"], r["content"], r["refs"]), r["config"]) for r in rows})
    d["model"], params = _in_effect(d["application"], app["model"], app["temperature"],
                                    app["max_tokens"], app["top_p"], d["config"])
    composed = await composed_version(d["version"], d["content"], d.pop("refs"))
    return ResolvedOut(**{**d, "content": composed.content, "variables": composed.variables},
                       params=params, references=composition.references_out(composed))


def resolved_json(resolved: ResolvedOut) -> tuple[bytes, str]:
    """The body ``GET /applications/{id}/resolved`` sends and its ETag."""
    return _with_etag(orjson.dumps(resolved.model_dump(exclude_unset=True)))


def _with_etag(body: bytes) -> tuple[bytes, str]:
    return body, '"' + hashlib.sha1(body).hexdigest() + '"'


def for_key(body: bytes, key: str | None) -> tuple[bytes, str] | None:
    """The ``resolved`` body and ETag for a stickiness ``key`` (the key's variant when the
    environment is split), from the key-less body the resolve cache keeps; None when the
    key changes nothing (no split, or no key). Keys that get the same variant get the same
    body (the key itself is not in it), so one key's answer never carries another's."""
    if not key or b'"split":{' not in body:
        return None
    return _with_etag(orjson.dumps(rollout.for_key(orjson.loads(body), key)))


async def resolve_json(pool: asyncpg.Pool, application_id: str) -> tuple[bytes, str]:
    """:func:`resolve` as the body and ETag the resolve cache keeps."""
    return resolved_json(await resolve(pool, application_id))


async def resolve_as_of(store: EventStore, application_id: str, as_of: datetime
                        ) -> ResolvedOut:
    """What the application ran at ``as_of``: its and its prompt's events folded up to
    then, with the event that had set the environment (``set_by``)."""
    app = applications.replay(await store.read_stream(streams.application(application_id),
                                                      until=as_of))
    if not app.exists:
        raise NotFound(f"application {application_id} did not exist at {as_of.isoformat()}")
    prompt = await prompt_state(store, app.prompt_id, until=as_of)
    version = pointer(prompt, app.environment)
    if version is None:
        raise _environment_unset(f"environment {app.environment!r} pointed at no version then")
    v = prompt.versions[version]
    lookup = composition.as_of_lookup(store, as_of)

    async def composed_version(number: int) -> Composed:
        assert prompt.prompt_id is not None
        at = prompt.versions[number]
        return await composition.compose(
            Node.of(prompt.prompt_id, prompt.name, number, at.content, at.references), lookup)

    composed = await composed_version(version)
    split = prompt.splits.get(app.environment)
    settings = {"model": app.model_id, "temperature": app.temperature,
                "max_tokens": app.max_tokens, "top_p": app.top_p}
    extra = {} if split is None else {"split": _split(
        split.variants, split.sticky_by,
        {n: _runs(app.name, settings, await composed_version(n), prompt.versions[n].config)
         for n in (x["version"] for x in split.variants)})}
    model, params = _in_effect(app.name, app.model_id, app.temperature, app.max_tokens,
                               app.top_p, v.config)
    return ResolvedOut(
        application_id=application_id, application=app.name, model=model,
        fallback_models=list(app.fallback_models), params=params,
        prompt_id=prompt.prompt_id, prompt_name=prompt.name, version=version,
        content=composed.content, variables=composed.variables, config=v.config,
        references=composition.references_out(composed), environment=app.environment,
        as_of=as_of,
        set_by=set_by(prompt.pointer_changes.get(app.environment)), **extra)
