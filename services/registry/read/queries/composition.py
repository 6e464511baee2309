"""What a version's references resolve to: the versions they point at now (read models) or
at a moment (folded from events), expanded by ``domain.composition.compose``; and which
prompts depend on a prompt (``prompt_versions.refs``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

from harness import templating
from harness.config import get_settings
from harness.eventstore import EventStore

from ...domain import composition
from ...domain import prompts as prompt_domain
from ...domain.composition import Bound, Composed, Node
from ...domain.errors import Invalid
from ...schemas import ResolvedReferenceOut
from ..projections import version_id

Key = tuple[str, str | None, int | None]
Lookup = Callable[[Bound], Awaitable[Node | None]]

_TARGET_SQL = """
SELECT p.name, v.version, v.content, v.refs
  FROM prompts p
  LEFT JOIN prompt_environments e ON e.prompt_id = p.id AND e.environment = $2
  JOIN prompt_versions v ON v.prompt_id = p.id
       AND v.version = CASE WHEN $3::int IS NOT NULL THEN $3::int
                            WHEN $2 = 'production' THEN p.active_version
                            ELSE e.version END
 WHERE p.id = $1
"""


def read_model_lookup(conn: asyncpg.Connection | asyncpg.Pool) -> Lookup:
    """Targets as the read models hold them now."""

    async def lookup(b: Bound) -> Node | None:
        row = await conn.fetchrow(_TARGET_SQL, b.prompt_id, b.environment, b.version)
        if row is None:
            return None
        return Node.of(b.prompt_id, row["name"], row["version"], row["content"], row["refs"])

    return lookup


def as_of_lookup(store: EventStore, as_of: datetime) -> Lookup:
    """Targets as they were at ``as_of`` (each referenced prompt's events folded)."""
    from .prompts import prompt_state

    states: dict[str, prompt_domain.PromptState] = {}

    async def lookup(b: Bound) -> Node | None:
        state = states.get(b.prompt_id)
        if state is None:
            state = states[b.prompt_id] = await prompt_state(store, b.prompt_id, as_of)
        number = b.version if b.version is not None else \
            prompt_domain.pointer(state, b.environment or prompt_domain.PRODUCTION)
        v = state.versions.get(number) if number is not None else None
        if v is None or state.prompt_id is None:
            return None
        return Node.of(state.prompt_id, state.name, v.version, v.content, v.references)

    return lookup


async def _targets(root: Node, lookup: Lookup, max_depth: int) -> dict[Key, Node | None]:
    """Every version reachable from ``root`` within ``max_depth`` references (one deeper,
    so that nesting too deep is seen and named)."""
    found: dict[Key, Node | None] = {}
    frontier = list(root.refs)
    for _ in range(max_depth + 1):
        following: list[Bound] = []
        for b in frontier:
            if b.key in found:
                continue
            node = found[b.key] = await lookup(b)
            if node is not None:
                following += node.refs
        if not following:
            break
        frontier = following
    return found


async def compose(root: Node, lookup: Lookup) -> Composed:
    """``root`` with its references expanded (a 422 names a cycle, a depth or size
    overrun; a 409 a reference whose environment points at nothing)."""
    if not root.refs and not templating.has_references(root.content):
        return Composed(root.content, templating.variables(root.content), [])
    depth = composition.MAX_DEPTH
    targets = await _targets(root, lookup, depth)
    return composition.compose(root, targets, max_depth=depth,
                               max_bytes=get_settings().max_prompt_bytes)


def references_out(composed: Composed) -> list[ResolvedReferenceOut]:
    return [ResolvedReferenceOut(
        ref=u.ref, prompt_id=u.prompt_id, prompt_name=u.name, id=str(version_id(
            u.prompt_id, u.version)), version=u.version, environment=u.environment,
        referenced_by=u.referenced_by, depth=u.depth) for u in composed.references]


async def bind(conn: asyncpg.Connection, prompt_id: str, name: str, version: int,
               content: templating.Content) -> tuple[dict, ...]:
    """The references of a version about to be created, bound to the prompts they name;
    a 422 when one names a prompt, version or environment that does not exist, or when
    expanding them would close a cycle, nest too deep, or reference a chat prompt."""
    try:
        refs = templating.references(content)
    except ValueError as exc:
        raise Invalid(f"content: {exc}", field="content") from exc
    if not refs:
        return ()
    names = sorted({r.name.lower() for r in refs})
    rows = await conn.fetch("SELECT id, name, lower(name) AS key, active_version FROM prompts "
                            "WHERE lower(name) = ANY($1::text[])", names)
    found = {r["key"]: (r["id"], r["name"]) for r in rows}
    for r in refs:
        if r.name.lower() not in found:
            raise Invalid(f"content: {r.where}: prompt({r.ref!r}) names no prompt: there is "
                          f"no prompt named {r.name!r}", field="content", reference=r.ref)
    bound = composition.bind(refs, found)
    lookup = read_model_lookup(conn)
    for b in bound:
        if b.prompt_id == prompt_id:
            raise composition.ReferenceCycle(
                f"reference cycle: {name} → {name} (a prompt cannot reference itself)",
                cycle=[name, name], field="content")
        if await lookup(b) is None:
            what = (f"has no version {b.version}" if b.version is not None
                    else f"has no version in environment {b.environment!r}")
            raise Invalid(f"content: prompt({b.ref!r}): prompt {b.name!r} {what}",
                          field="content", reference=b.ref)
    await compose(Node(prompt_id, name, version, content, bound), lookup)
    return tuple(b.as_data() for b in bound)


async def refuse_cycle(conn: asyncpg.Connection, state: prompt_domain.PromptState,
                       version: int | None) -> None:
    """Before an environment of ``state``'s prompt moves to ``version``: a 422 when the
    version's references lead back to the prompt (every cycle a move closes runs through
    the prompt that moved). Other failures of the composition do not stop a move."""
    v = state.versions.get(version) if isinstance(version, int) else None
    if v is None or not v.references or state.prompt_id is None:
        return
    try:
        await compose(Node.of(state.prompt_id, state.name, v.version, v.content, v.references),
                      read_model_lookup(conn))
    except composition.ReferenceCycle:
        raise
    except (composition.ReferenceUnresolved, Invalid):
        return


_DEPENDENTS_SQL = """
WITH RECURSIVE edges AS (
    SELECT DISTINCT v.prompt_id AS dependent, r->>'prompt_id' AS referenced,
           r->>'environment' AS environment
      FROM prompt_versions v, jsonb_array_elements(v.refs) AS r
     WHERE v.refs <> '[]'::jsonb
), dependents(prompt_id) AS (
    SELECT dependent FROM edges
     WHERE referenced = $1 AND ($2::text IS NULL OR environment = $2)
    UNION
    SELECT e.dependent FROM edges e JOIN dependents d ON e.referenced = d.prompt_id
)
SELECT prompt_id FROM dependents WHERE prompt_id <> $1 ORDER BY prompt_id
"""


async def dependents(conn: asyncpg.Connection | asyncpg.Pool, prompt_id: str,
                     environment: str | None = None) -> list[str]:
    """The prompts whose versions reference ``prompt_id`` (at ``environment`` when given,
    any when not), directly or through other prompts."""
    return [r["prompt_id"] for r in await conn.fetch(_DEPENDENTS_SQL, prompt_id, environment)]
