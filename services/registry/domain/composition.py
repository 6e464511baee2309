"""Prompt composition, pure: a version's ``{{ prompt("name@label") }}`` references, bound to
the referenced prompts when the version is created, expanded into one template.

- A reference names a prompt (by name, any case) and a version number or an environment
  (``production`` = the active version; no label = production). When the version is
  created each reference is *bound*: the name becomes the prompt's id (a later rename does
  not break it), and the prompt, the version or the environment must exist (else 422).
- Expanding a version replaces each reference with the referenced version's text,
  itself expanded, so references nest. A prompt may appear only once on a path of
  references (``a → b → a`` is a :class:`ReferenceCycle`), paths are at most
  :data:`MAX_DEPTH` references long (:class:`ReferenceTooDeep`), and only text prompts
  can be referenced (a chat prompt's messages have no place inside a text).
- What a reference to an environment resolves to changes when the environment moves;
  the registry then appends ``PromptReferenceMoved`` to every dependent's stream
  (``reactions.references_moved``).

The read side loads the versions references point to (:func:`targets_needed` says which)
and :func:`compose` expands without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import templating

from .errors import DomainError, Invalid

MAX_DEPTH = 5
"""How many references deep a composition may go (a → b → c is 2)."""


class ReferenceCycle(Invalid):
    """The references lead back to a prompt already on the path."""


class ReferenceTooDeep(Invalid):
    """The references nest deeper than :data:`MAX_DEPTH`."""


class ReferenceUnresolved(DomainError):
    """A reference points at nothing now (its environment was cleared): the registry's
    state, not the request, is at fault."""


class ComposedTooLarge(Invalid):
    """The expanded content exceeds the size limit of a prompt's content."""


@dataclass(frozen=True)
class Bound:
    """A reference as a version stores it: the text written and the prompt it names."""

    ref: str
    prompt_id: str
    name: str
    environment: str | None = None
    version: int | None = None

    @property
    def key(self) -> tuple[str, str | None, int | None]:
        return (self.prompt_id, self.environment, self.version)

    def as_data(self) -> dict[str, Any]:
        d: dict[str, Any] = {"ref": self.ref, "prompt_id": self.prompt_id, "name": self.name}
        if self.version is not None:
            d["version"] = self.version
        else:
            d["environment"] = self.environment
        return d

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Bound:
        return cls(ref=data["ref"], prompt_id=data["prompt_id"], name=data.get("name", ""),
                   environment=data.get("environment"), version=data.get("version"))


@dataclass(frozen=True)
class Node:
    """A prompt version as composition sees it."""

    prompt_id: str
    name: str
    version: int
    content: Any
    refs: tuple[Bound, ...] = ()

    @classmethod
    def of(cls, prompt_id: str, name: str, version: int, content: Any,
           refs: Iterable[Mapping[str, Any]] = ()) -> Node:
        return cls(prompt_id, name, version, content, tuple(Bound.of(r) for r in refs or ()))


@dataclass(frozen=True)
class Used:
    """A version a composition used: which prompt referenced it, with which text."""

    ref: str
    prompt_id: str
    name: str
    version: int
    environment: str | None
    referenced_by: str
    depth: int


@dataclass(frozen=True)
class Composed:
    content: Any
    variables: list[str]
    references: list[Used] = field(default_factory=list)


def bind(references: Iterable[templating.Reference], found: Mapping[str, tuple[str, str]]
         ) -> tuple[Bound, ...]:
    """The references bound to prompts: ``found`` maps a lower-case name to the prompt's
    (id, name); the read side checked that each version or environment exists."""
    out: dict[str, Bound] = {}
    for r in references:
        prompt_id, name = found[r.name.lower()]
        out.setdefault(r.ref, Bound(r.ref, prompt_id, name, r.environment, r.version))
    return tuple(out.values())


def _label(b: Bound) -> str:
    return f"v{b.version}" if b.version is not None else str(b.environment)


def _cycle(path: tuple[Node, ...], back_to: Bound) -> list[str]:
    """The names around the cycle ``back_to`` closes: ``[a, b, a]``."""
    start = next(i for i, n in enumerate(path) if n.prompt_id == back_to.prompt_id)
    return [n.name for n in path[start:]] + [path[start].name]


def compose(root: Node, targets: Mapping[tuple[str, str | None, int | None], Node | None],
            *, max_depth: int = MAX_DEPTH, max_bytes: int | None = None) -> Composed:
    """``root``'s content with every reference expanded; ``targets`` holds what each
    bound reference resolves to now (``None``: its environment points at no version)."""
    used: dict[tuple[str, int], Used] = {}
    done: dict[tuple[str, int], tuple[Any, int]] = {}  # expanded text, height below it

    def expand(node: Node, path: tuple[Node, ...]) -> tuple[Any, int]:
        memo = done.get((node.prompt_id, node.version))
        if memo is not None:
            return memo
        by_ref = {b.ref: b for b in node.refs}
        height = 0

        def text_of(r: templating.Reference) -> str:
            nonlocal height
            b = by_ref.get(r.ref)
            if b is None:  # a version stored before references existed holds none
                raise Invalid(f"{node.name} v{node.version}: {r.where}: reference {r.ref!r} "
                              "was not bound when the version was created", field="content")
            if b.prompt_id in {n.prompt_id for n in path}:
                cycle = _cycle(path, b)
                raise ReferenceCycle(f"reference cycle: {' → '.join(cycle)}", cycle=cycle,
                                     field="content")
            depth = len(path)  # of this reference: 1 from the root
            if depth > max_depth:
                chain = " → ".join([*(n.name for n in path), b.name])
                raise ReferenceTooDeep(
                    f"references nest deeper than {max_depth}: {chain}",
                    max_depth=max_depth, field="content")
            target = targets.get(b.key)
            if target is None:
                raise ReferenceUnresolved(
                    f"{node.name} v{node.version} references {b.ref!r}: environment "
                    f"{b.environment!r} of prompt {b.name!r} points at no version",
                    reference=b.ref, prompt_id=b.prompt_id, environment=b.environment)
            if not isinstance(target.content, str):
                raise Invalid(f"{node.name} v{node.version} references {b.ref!r}, which is a "
                              f"chat prompt ({target.name} v{target.version}): only text "
                              "prompts can be referenced", field="content", reference=b.ref)
            text, below = expand(target, (*path, target))
            if depth + below > max_depth:  # met before, from less deep
                raise ReferenceTooDeep(
                    f"references nest deeper than {max_depth} below {target.name} "
                    f"v{target.version}", max_depth=max_depth, field="content")
            height = max(height, below + 1)
            used.setdefault((target.prompt_id, target.version), Used(
                b.ref, target.prompt_id, target.name, target.version, b.environment,
                node.prompt_id, depth))
            return text

        text = templating.expand(node.content, text_of) if node.refs or \
            templating.has_references(node.content) else node.content
        if max_bytes is not None and node.refs:
            size = templating.content_bytes(text)
            if size > max_bytes:
                raise ComposedTooLarge(
                    f"{node.name} v{node.version} expanded is {size} bytes; the limit is "
                    f"{max_bytes} (HARNESS_MAX_PROMPT_BYTES)", field="content",
                    limit_bytes=max_bytes)
        done[(node.prompt_id, node.version)] = (text, height)
        return text, height

    content, _ = expand(root, (root,))
    if root.refs:
        try:
            templating.validate(content)
            names = templating.variables(content)
        except ValueError as exc:
            raise Invalid(f"content: {root.name} v{root.version} with its references expanded: "
                          f"{exc}", field="content") from exc
    else:
        names = templating.variables(content)
    # by depth, then in the order first met
    order = sorted(used.values(), key=lambda u: u.depth)
    return Composed(content, names, order)
