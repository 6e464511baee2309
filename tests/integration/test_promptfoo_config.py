"""Loading promptfoo configs: prompts, providers, tests, CSV conventions, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.promptfoo import ConfigError, assertion_from_string, csv_row_to_test, load_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "promptfoo"


def write(tmp_path: Path, text: str, name: str = "promptfooconfig.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ---------------------------------------------------------------- inline config
def test_inline_config_targets_cases_and_matrix():
    plan = load_config(FIXTURES / "basic" / "promptfooconfig.yaml")
    assert plan.description == "Echo basics"
    assert [p.label for p in plan.prompts] == ["Translate to {{language}}: {{text}}", "farewell"]
    assert [t.target_id for t in plan.targets] == ["t0", "t1"]
    assert plan.targets[1].label == "farewell · echo"
    assert {t.model for t in plan.targets} == {"echo"}
    # language: [French, German] expands; defaultTest vars and asserts are merged in
    assert [c.id for c in plan.cases] == [f"case-{i:04d}" for i in range(1, 6)]
    assert [c.input for c in plan.cases[:2]] == [
        {"text": "Hello world", "language": "French"},
        {"text": "Hello world", "language": "German"},
    ]
    first = plan.cases[0]
    assert [a["type"] for a in first.assert_] == ["contains", "not-contains", "regex"]
    assert first.metadata["description"] == "language matrix"
    assert plan.cases[2].threshold is None and plan.cases[3].threshold == 0.5
    # the farewell-only test runs on one target
    assert [(c.id, t) for c, t in plan.pairs()][-1] == ("case-0005", 1)
    assert len(plan.pairs()) == 9
    assert plan.warnings == []


def test_matrix_expansion_is_cartesian_and_keeps_non_string_lists(tmp_path):
    cfg = write(tmp_path, """
        prompts: ["{{a}} {{b}} {{c}}"]
        providers: [echo]
        defaultTest:
          vars: {c: [x, y]}
        tests:
          - vars: {a: [1, 2], b: [p, q]}
    """)
    plan = load_config(cfg)
    # c × b expand (lists of strings); a list of numbers is one value, as in promptfoo
    assert [c.input for c in plan.cases] == [
        {"c": "x", "a": [1, 2], "b": "p"}, {"c": "x", "a": [1, 2], "b": "q"},
        {"c": "y", "a": [1, 2], "b": "p"}, {"c": "y", "a": [1, 2], "b": "q"},
    ]
    info = [c.metadata["promptfoo"] for c in plan.cases]
    assert {i["test_index"] for i in info} == {0}
    assert [i["combo_index"] for i in info] == [0, 1, 2, 3]


def test_no_tests_means_one_test_from_default(tmp_path):
    cfg = write(tmp_path, """
        prompts: "Hi {{who}}"
        providers: echo
        defaultTest:
          vars: {who: you}
          assert: [{type: contains, value: you}]
    """)
    plan = load_config(cfg)
    assert len(plan.cases) == 1
    assert plan.cases[0].input == {"who": "you"}
    assert plan.cases[0].assert_[0]["type"] == "contains"


def test_disable_default_asserts_and_var_expansion(tmp_path):
    cfg = write(tmp_path, """
        prompts: ["{{xs}}"]
        providers: [echo]
        defaultTest:
          assert: [{type: contains, value: a}]
        tests:
          - vars: {xs: [a, b]}
            options: {disableDefaultAsserts: true, disableVarExpansion: true}
    """)
    [case] = load_config(cfg).cases
    assert case.input == {"xs": ["a", "b"]}
    assert case.assert_ == []


# ---------------------------------------------------------------- files
def test_file_prompts_and_csv_tests():
    plan = load_config(FIXTURES / "files" / "promptfooconfig.yaml")
    labels = [p.label for p in plan.prompts]
    # a .txt file holds two prompts separated by a --- line
    assert labels == ["prompts/greeting.txt: Hello {{name}}, welcome to {{place}}.",
                      "prompts/greeting.txt: Goodbye {{name}}.", "chat"]
    assert plan.prompts[2].content == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Greet {{name}}"},
    ]
    assert plan.prompts[2].raw.startswith('[{"role":"system"')
    assert len(plan.targets) == 3
    cases = plan.cases
    assert [c.input["name"] for c in cases] == ["Ada", "Bob", "Cy", "Dee", "Eve"]
    ada, bob, cy, dee, eve = cases
    assert ada.metadata["description"] == "Ada row"
    assert ada.assert_ == [{"type": "contains", "value": "Ada", "metric": "greeting"},
                           {"type": "not-contains", "value": "Bob", "metric": "greeting"}]
    assert bob.assert_[1] == {"type": "regex", "value": r"\bRome\b"}
    assert cy.metadata["description"] == "Row #3"
    assert cy.assert_ == [{"type": "contains-any", "value": ["Cy", "Zed"]}, {"type": "is-json"}]
    assert cy.threshold == 0.5
    assert dee.assert_ == [{"type": "equals", "value": "Goodbye Dee."}]
    assert eve.metadata["description"] == "starts with Hello"
    assert "tests.csv: row 2" in bob.metadata["promptfoo"]["source"]


def test_csv_shorthand():
    assert assertion_from_string("contains:x") == {"type": "contains", "value": "x"}
    assert assertion_from_string("icontains:Hello, World") == {"type": "icontains",
                                                                "value": "Hello, World"}
    assert assertion_from_string("not-regex:^a") == {"type": "not-regex", "value": "^a"}
    assert assertion_from_string("is-json") == {"type": "is-json"}
    assert assertion_from_string("icontains-all:a, b") == {"type": "icontains-all",
                                                            "value": ["a", "b"]}
    assert assertion_from_string("grade:is polite") == {"type": "llm-rubric",
                                                        "value": "is polite"}
    assert assertion_from_string("llm-rubric:is short") == {"type": "llm-rubric",
                                                            "value": "is short"}
    assert assertion_from_string("similar(0.9):hello") == {"type": "similar", "value": "hello",
                                                           "threshold": 0.9}
    assert assertion_from_string("similar:hello") == {"type": "similar", "value": "hello",
                                                      "threshold": 0.8}
    assert assertion_from_string("levenshtein(3):abc")["threshold"] == 3
    assert assertion_from_string("javascript: output.length > 3") == {
        "type": "javascript", "value": "output.length > 3"}
    assert assertion_from_string("file://check.py")["type"] == "python"
    assert assertion_from_string("Paris") == {"type": "equals", "value": "Paris"}
    assert assertion_from_string("containsx") == {"type": "equals", "value": "containsx"}


def test_csv_row_special_columns():
    test = csv_row_to_test(
        {"q": "hi", "__expected": "contains:h", "__expected1": "", "__expected2": "regex:i$",
         "__description": "d", "__metric": "m", "__threshold": "0.25", "__prefix": ">> "},
        file="t.csv", row_number=1)
    assert test == {
        "vars": {"q": "hi"},
        "assert": [{"type": "contains", "value": "h", "metric": "m"},
                   {"type": "regex", "value": "i$", "metric": "m"}],
        "options": {"prefix": ">> "}, "description": "d", "threshold": 0.25,
    }


def test_tests_from_yaml_json_jsonl_and_globs(tmp_path):
    write(tmp_path, "- vars: {x: yaml}\n", "data/a.yaml")
    write(tmp_path, '[{"vars": {"x": "json"}}]', "data/b.json")
    write(tmp_path, '{"vars": {"x": "l1"}}\n\n{"vars": {"x": "l2"}}\n', "more.jsonl")
    cfg = write(tmp_path, """
        prompts: ["{{x}}"]
        providers: [echo]
        tests:
          - file://data/*
          - more.jsonl
          - vars: {x: inline}
    """)
    plan = load_config(cfg)
    assert [c.input["x"] for c in plan.cases] == ["yaml", "json", "l1", "l2", "inline"]
    assert plan.cases[2].metadata["description"] == "Row #1"


def test_file_vars_glob_expand_and_prompt_glob(tmp_path):
    write(tmp_path, "alpha", "docs/1.txt")
    write(tmp_path, "beta", "docs/2.txt")
    write(tmp_path, "A {{doc}}", "p/a.md")
    write(tmp_path, "B {{doc}}", "p/b.md")
    cfg = write(tmp_path, """
        prompts: [file://p/*.md]
        providers: [echo]
        tests:
          - vars: {doc: file://docs/*.txt}
    """)
    plan = load_config(cfg)
    assert [p.content for p in plan.prompts] == ["A {{doc}}", "B {{doc}}"]
    assert [c.input["doc"] for c in plan.cases] == ["alpha", "beta"]


def test_assertion_values_from_files_are_loaded(tmp_path):
    write(tmp_path, "is polite\n", "rubric.txt")
    write(tmp_path, "type: object\nrequired: [a]\n", "schema.yaml")
    cfg = write(tmp_path, """
        prompts: ["x"]
        providers: [echo]
        tests:
          - assert:
              - {type: llm-rubric, value: file://rubric.txt}
              - {type: is-json, value: file://schema.yaml}
    """)
    [case] = load_config(cfg).cases
    assert case.assert_[0]["value"] == "is polite\n"
    assert case.assert_[1]["value"] == {"type": "object", "required": ["a"]}


def test_provider_forms_and_config_mapping(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-from-env")
    cfg = write(tmp_path, """
        prompts:
          - {raw: "Hi {{n}}", label: hi, config: {temperature: 0.2}}
        providers:
          - openai:gpt-4o-mini
          - id: openai:chat:local
            label: local
            config:
              apiBaseUrl: http://127.0.0.1:9/v1
              apiKeyEnvar: MY_KEY
              max_tokens: 10
              headers: {X-Team: qa}
              functionToolCallbacks: {}
          - anthropic:messages:claude-3-5-haiku-latest: {config: {temperature: 0}}
    """)
    plan = load_config(cfg)
    assert [p.model for p in plan.providers] == [
        "openai/gpt-4o-mini", "openai/local", "anthropic/claude-3-5-haiku-latest"]
    local = plan.targets[1]
    assert local.label == "hi · local"
    assert local.params == {"api_base": "http://127.0.0.1:9/v1", "api_key": "sk-from-env",
                            "max_tokens": 10, "extra_headers": {"X-Team": "qa"},
                            "temperature": 0.2}
    assert plan.targets[2].params == {"temperature": 0.2}  # the prompt's config wins
    assert any("functionToolCallbacks" in w for w in plan.warnings)


def test_provider_prompt_filter_and_targets_alias(tmp_path):
    cfg = write(tmp_path, """
        prompts:
          - {raw: "one {{x}}", label: one}
          - {raw: "two {{x}}", label: two}
        targets:
          - {id: echo, label: e1, prompts: [two]}
          - echo
        tests: [{vars: {x: 1}}]
    """)
    plan = load_config(cfg)
    assert [t.label for t in plan.targets] == ["two · e1", "one · echo", "two · echo"]
    assert plan.target_pairs == [(1, 0), (0, 1), (1, 1)]


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(("config", "where", "words"), [
    ("prompts: [x]\nproviders: [echo]\ntests: [{assert: [{type: ruby, value: '1'}]}]",
     "tests[0].assert[0]", "Ruby"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{assert: [{type: skill-used, value: x}]}]",
     "tests[0].assert[0]", "skill"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{assert: [{type: classifier, value: a}]}]",
     "tests[0].assert[0]", "HuggingFace"),
    ("prompts: [x]\nproviders: [echo]\n"
     "tests: [{assert: [{type: python, value: 'file://missing.py'}]}]",
     "tests[0].assert[0].value", "script not found"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{assert: [{type: nope}]}]",
     "tests[0].assert[0]", "unknown assertion type"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{description: only this}]",
     "tests[0]", "must contain one of"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{assert: {type: contains}}]",
     "tests[0].assert", "must be a list"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{vars: {a: 1}, provider: echo}]",
     "tests[0].provider", "not supported"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{options: {transformVars: vars}}]",
     "tests[0].options.transformVars", "not supported"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{options: {transform: file://nope.js}}]",
     "tests[0].options.transform", "script not found"),
    ("prompts: [x]\nproviders: [echo]\ntests: [{vars: {a: 1}, threshold: high}]",
     "tests[0].threshold", "must be a number"),
    ("prompts: [x]\nproviders: ['https://example.com/api']", "providers[0].id", "custom"),
    ("prompts: [x]\nproviders: [madeup:model]", "providers[0].id", "unknown prefix"),
    ("prompts: [x]\nproviders: [{label: nolabel}]", "providers[0]", "'id'"),
    ("prompts: [x]", "providers", "at least one provider"),
    ("prompts: [file://missing.txt]\nproviders: [echo]", "prompts[0]", "not found"),
    ("prompts: ['file://make_prompt.py:build']\nproviders: [echo]", "prompts[0]",
     "not supported"),
    ("prompts: [x]\nproviders: [echo]\ntests: file://nope.csv", "tests", "not found"),
    ("prompts: [x]\nproviders: [echo]\ntests: file://gen.py", "tests", "not supported"),
    ("prompts: [x]\nproviders: [echo]\nscenarios: []", "scenarios", "not supported"),
    ("prompts: [x]\nproviders: [echo]\nevaluateOptions: {repeat: 0}",
     "evaluateOptions.repeat", "≥ 1"),
    ("- just\n- a list\n", None, "must be a mapping"),
])
def test_bad_configs_name_file_and_field(tmp_path, config, where, words):
    cfg = write(tmp_path, config)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    err = info.value
    assert err.file == str(cfg)
    assert err.location == where
    assert words in err.message
    assert str(cfg) in str(err)


def test_yaml_syntax_error_names_the_line(tmp_path):
    cfg = write(tmp_path, "prompts: [x\nproviders: [echo]\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert info.value.file == str(cfg)
    assert info.value.location.startswith("line ")
    assert "invalid YAML" in info.value.message


def test_csv_errors_name_file_row_and_column(tmp_path):
    write(tmp_path, "q,__expected\nhi,pi:is it good\n", "tests.csv")
    cfg = write(tmp_path, "prompts: ['{{q}}']\nproviders: [echo]\ntests: file://tests.csv\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert (info.value.file, info.value.location) == ("tests.csv", "row 1.assert[0]")
    assert "'pi'" in info.value.message

    write(tmp_path, "q,__threshold\nhi,high\n", "tests.csv")  # promptfoo ignores it too
    assert load_config(cfg).cases[0].threshold is None
    write(tmp_path, "q,__config:__expected:weight\nhi,2\n", "tests.csv")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert (info.value.file, info.value.location) == (
        "tests.csv", "row 1, column __config:__expected:weight")

    write(tmp_path, "q\nhi,extra\n", "tests.csv")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert (info.value.file, info.value.location) == ("tests.csv", "row 1")


def test_errors_in_test_files_name_that_file(tmp_path):
    write(tmp_path, "- assert: [{value: x}]\n", "t/tests.yaml")
    cfg = write(tmp_path, "prompts: [x]\nproviders: [echo]\ntests: file://t/tests.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    assert (info.value.file, info.value.location) == ("t/tests.yaml", "[0].assert[0]")


def test_directory_and_json_config(tmp_path):
    write(tmp_path, '{"prompts": ["hi"], "providers": ["echo"]}', "promptfooconfig.json")
    plan = load_config(tmp_path)
    assert plan.config_path.name == "promptfooconfig.json"
    assert plan.targets[0].content == "hi"


def test_warnings_for_ignored_keys(tmp_path):
    cfg = write(tmp_path, """
        prompts: [x]
        providers: [echo]
        env: {OPENAI_API_KEY: sk}
        tests:
          - vars: {a: 1, assert: []}
            asserts: []
          - vars: {a: 2}
            providers: [no-such-provider]
    """)
    warnings = load_config(cfg).warnings
    assert any(w.startswith("env:") for w in warnings)
    assert any("unknown test keys ignored: asserts" in w for w in warnings)
    assert any("'assert' belongs to the test" in w for w in warnings)
    assert any("tests[1]: its providers/prompts filter matches no target" in w
               for w in warnings)


def test_vars_from_files(tmp_path):
    write(tmp_path, "city: Oslo\nlangs: [en, no]\n", "vars/a.yaml")
    write(tmp_path, '{"who": "Ada"}', "vars/b.json")
    cfg = write(tmp_path, """
        prompts: ["{{who}} {{city}} {{langs}}"]
        providers: [echo]
        tests:
          - vars: [file://vars/a.yaml, file://vars/b.json]
    """)
    plan = load_config(cfg)
    assert [c.input for c in plan.cases] == [
        {"city": "Oslo", "langs": "en", "who": "Ada"},
        {"city": "Oslo", "langs": "no", "who": "Ada"},
    ]


def test_yaml_scalars_are_read_as_promptfoo_reads_them(tmp_path):
    cfg = write(tmp_path, """
        prompts: ["{{a}}"]
        providers: [echo]
        tests:
          - vars: {a: no, b: on, c: 10:30, d: 0755, e: true, f: 2024-01-02}
    """)
    [case] = load_config(cfg).cases
    assert case.input == {"a": "no", "b": "on", "c": "10:30", "d": 755, "e": True,
                          "f": "2024-01-02"}
