"""Reads of applications, and what one resolves to (``ResolvedOut``): from the read models
now, or folded from the events up to a moment (``as_of``)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import asyncpg
import orjson

from harness import rollout
from harness.events import streams
from harness.eventstore import EventStore
from harness.web.problems import ProblemError

from ...domain import applications
from ...domain.errors import NotFound
from ...domain.prompts import pointer
from ...schemas import (
    ApplicationOut,
    Page,
    ResolvedOut,
    SplitOut,
    SplitVariantOut,
)
from .governance import set_by
from .prompts import prompt_state

_RESOLVE_SQL = """
SELECT a.id AS application_id, a.name AS application, a.model_id AS model, a.temperature,
       a.max_tokens, a.top_p, a.fallback_models, a.environment, p.id AS prompt_id,
       p.name AS prompt_name, v.version, v.content, v.variables,
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


def _params(temperature: float, max_tokens: int, top_p: float | None) -> dict:
    params = {"temperature": temperature, "max_tokens": max_tokens}
    if top_p is not None:
        params["top_p"] = top_p
    return params


def _environment_unset(detail: str, environment: str | None = None) -> ProblemError:
    extra = {} if environment is None else {"environment": environment}
    return ProblemError(409, "environment-unset", detail, **extra)


def _split(variants: list[dict], sticky_by: str, versions: dict[int, tuple]) -> SplitOut:
    """A split's variants with what each version runs (``versions``: version -> (content,
    variables))."""
    return SplitOut(sticky_by=sticky_by, variants=[
        SplitVariantOut(version=v["version"], weight=v["weight"],
                        share=rollout.share(v, variants), content=versions[v["version"]][0],
                        variables=versions[v["version"]][1])
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
    variants, sticky_by = d.pop("split_variants"), d.pop("sticky_by")
    if variants:  # versions are immutable: read apart, they still match the split
        rows = await pool.fetch(
            "SELECT version, content, variables FROM prompt_versions "
            "WHERE prompt_id = $1 AND version = ANY($2::int[])", d["prompt_id"],
            [v["version"] for v in variants])
        d["split"] = _split(variants, sticky_by,
                            {r["version"]: (r["content"], r["variables"]) for r in rows})
    params = _params(d.pop("temperature"), d.pop("max_tokens"), d.pop("top_p"))
    return ResolvedOut(**d, params=params)


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
    split = prompt.splits.get(app.environment)
    extra = {} if split is None else {"split": _split(
        split.variants, split.sticky_by,
        {n: (prompt.versions[n].content, prompt.versions[n].variables)
         for n in (x["version"] for x in split.variants)})}
    return ResolvedOut(
        application_id=application_id, application=app.name, model=app.model_id,
        fallback_models=list(app.fallback_models),
        params=_params(app.temperature, app.max_tokens, app.top_p),
        prompt_id=prompt.prompt_id, prompt_name=prompt.name, version=version,
        content=v.content, variables=v.variables, environment=app.environment, as_of=as_of,
        set_by=set_by(prompt.pointer_changes.get(app.environment)), **extra)
