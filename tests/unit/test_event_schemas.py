"""The committed event contract (docs/events/) is exactly what the generator produces."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "events"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_event_schemas",
                                                  ROOT / "tools" / "gen_event_schemas.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_event_schemas", module)
    spec.loader.exec_module(module)
    return module


gen = _generator()
FILES = gen.render_all()


def test_committed_event_contract_matches_the_generator():
    problems = gen.diff(DOCS)
    assert not problems, ("docs/events/ differs from the event models: " + "; ".join(problems)
                          + " (run: python tools/gen_event_schemas.py)")


def test_every_registered_event_type_has_a_schema():
    from harness.events import registry

    files = FILES
    for cls in registry._classes.values():
        assert f"{cls.TYPE}.v{cls.SCHEMA_VERSION}.schema.json" in files
        assert f"### {cls.TYPE}\n" in files["README.md"]


@pytest.mark.parametrize("name", sorted(n for n in FILES if n.endswith(".json")))
def test_schemas_are_valid_draft_2020_12(name):
    schema = json.loads(FILES[name])
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["type"]["const"] == name.split(".v")[0]


def test_the_example_message_validates_and_wrong_messages_do_not():
    schema = json.loads(FILES["PromptVersionActivated.v1.schema.json"])
    validator = jsonschema.Draft202012Validator(schema)
    example = gen.example_envelope()
    validator.validate(example)
    assert json.dumps(example, indent=2) in FILES["README.md"]
    for broken in (
        {**example, "type": "PromptVersionCreated"},
        {**example, "schema_version": 2},
        {**example, "data": {"prompt_id": "p"}},                    # version missing
        {**example, "data": {**example["data"], "version": "3"}},   # wrong type
        {k: v for k, v in example.items() if k != "event_id"},
        {**example, "stream_id": "application-1"},
    ):
        assert not validator.is_valid(broken), broken


def test_drift_is_detected(tmp_path):
    out = tmp_path / "events"
    gen.write(out)
    assert gen.diff(out) == []
    (out / "PromptVersionActivated.v1.schema.json").write_text("{}\n")
    (out / "Gone.v1.schema.json").write_text("{}\n")
    (out / "README.md").unlink()
    assert gen.diff(out) == ["missing: README.md",
                             "stale (no such event type/version): Gone.v1.schema.json",
                             "out of date: PromptVersionActivated.v1.schema.json"]
    gen.write(out)
    assert gen.diff(out) == [] and not (out / "Gone.v1.schema.json").exists()
