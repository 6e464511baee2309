"""Stream names are spelled in one place, and read back by category."""

from __future__ import annotations

from harness.events import streams
from services.registry.resolve_cache import ResolveCache


def test_names_and_their_parts():
    assert streams.run("1f0c-9") == "run-1f0c-9"
    assert [streams.prompt("p"), streams.application("a"), streams.dataset("d"),
            streams.generation("g"), streams.alert("x")] == [
        "prompt-p", "application-a", "dataset-d", "generation-g", "alert-x"]
    assert streams.GLOBAL_POLICY == "policy-global"
    assert streams.category(streams.run("1f0c-9")) == streams.RUN
    assert streams.entity_id(streams.run("1f0c-9")) == "1f0c-9"


def test_the_resolve_cache_drops_answers_only_for_prompts_and_applications():
    cache = ResolveCache()
    for stream in [streams.run("r"), streams.dataset("d"), streams.GLOBAL_POLICY]:
        cache.invalidate(stream)
    assert cache.generation == 0
    cache.invalidate(streams.prompt("p"))
    cache.invalidate(streams.application("a"))
    assert cache.generation == 2
