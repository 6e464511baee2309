"""The deterministic promptfoo types added to the engine. Expected numbers and verdicts
were produced by promptfoo 0.123.1 itself on the same inputs (the differential corpus
checks many more rows against the real promptfoo)."""

from __future__ import annotations

import json

import pytest

from harness.assertions import AssertionContext, evaluate_assertion, parse_assertions
from harness.assertions.overlap_metrics import bleu_score, gleu_score, rouge_n_score
from harness.assertions.porter import stem
from harness.assertions.treebank import treebank_tokenize


async def run(assertion: dict, output: str, **ctx):
    ctx.setdefault("allow_code", True)
    return await evaluate_assertion(assertion, output, AssertionContext(**ctx))


# --- xml -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "value", "passed"), [
    ("<a><b>1</b></a>", None, True),
    ("<a><b>1</b></a>", "a.b", True),
    ("<a><b>1</b></a>", "a.b, a.c", False),
    ('<a id="x"><b>1</b><b>2</b></a>', ["a.@_id", "a.b.1"], True),
    ("<a><b>1</b></a> trailing", None, False),
    ("<a><b>1</a></b>", None, False),
    ("<p:a/>", None, False),  # an unbound namespace prefix
    ('<!DOCTYPE a [<!ENTITY x "y">]><a/>', None, False),  # internal subset refused
])
async def test_is_xml(output, value, passed):
    a = {"type": "is-xml", **({"value": value} if value is not None else {})}
    r = await run(a, output)
    assert (r.passed, r.error) == (passed, False), r.reason


async def test_contains_xml_finds_a_fragment_in_text():
    out = "Here you go:\n<order><id>7</id><item>pen</item></order>\nThanks"
    assert (await run({"type": "contains-xml", "value": "order.item"}, out)).passed
    assert not (await run({"type": "contains-xml", "value": "order.price"}, out)).passed
    r = await run({"type": "contains-xml"}, "no markup here")
    assert not r.passed and r.reason == "No XML content found in the output"
    assert (await run({"type": "not-contains-xml"}, "no markup here")).passed


# --- sql -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "passed"), [
    ("SELECT id, name FROM users WHERE id = 1", True),
    ("SELECT id name FROM users", False),  # promptfoo's missing-comma rule
    ("SELECT id, FROM users", False),
    ("hello world", False),
    ("SELECT * FROM users WHERE", False),
    ("SELECT generate_series(1, 3)", False),  # not MySQL
    ("SELECT `id FROM users", False),
    ("UPDATE users SET name = 'b' WHERE id = 2", True),
])
async def test_is_sql(output, passed):
    r = await run({"type": "is-sql"}, output)
    assert (r.passed, r.error) == (passed, False), r.reason


async def test_is_sql_allowed_tables_and_columns():
    value = {"allowedTables": ["select::null::users"]}
    assert (await run({"type": "is-sql", "value": value}, "SELECT id FROM users")).passed
    r = await run({"type": "is-sql", "value": value}, "SELECT id FROM orders")
    assert not r.passed and "unauthorized table" in r.reason
    cols = {"allowedColumns": ["select::null::id"]}
    assert (await run({"type": "is-sql", "value": cols}, "SELECT id FROM users")).passed
    assert not (await run({"type": "is-sql", "value": cols}, "SELECT secret FROM users")).passed
    r = await run({"type": "is-sql", "value": "MySQL"}, "SELECT 1")
    assert r.error and "object value" in r.reason


async def test_contains_sql_reads_fenced_blocks():
    out = "Use this:\n```sql\nSELECT id FROM users\n```\nor ```python``` code"
    assert (await run({"type": "contains-sql"}, out)).passed
    out = "```python\nprint(1)\n```"
    assert not (await run({"type": "contains-sql"}, out)).passed


# --- n-gram metrics (numbers from promptfoo 0.123.1) -------------------------------------------


def test_bleu_gleu_rouge_numbers():
    ref = "the cat sat on the mat"
    assert bleu_score(ref, [ref]) == pytest.approx(1.0)
    assert bleu_score("the cat is on the mat", [ref]) == pytest.approx(0.010573712634405643)
    assert gleu_score("the cat is on the mat", [ref]) == pytest.approx(0.5)
    assert rouge_n_score("the cat is on the mat", ref) == pytest.approx(5 / 6)
    assert bleu_score("", [ref]) == 0.0


async def test_bleu_threshold_and_inverse():
    r = await run({"type": "bleu", "value": "a b c d e"}, "a b c d e")
    assert r.passed and r.score == pytest.approx(1.0)
    r = await run({"type": "not-bleu", "value": "a b c d e"}, "a b c d e")
    assert not r.passed and r.score == pytest.approx(0.0)
    r = await run({"type": "bleu", "value": ["x y", "a b c d e"], "threshold": 0.9}, "a b c d e")
    assert r.passed
    assert (await run({"type": "bleu", "value": {"a": 1}}, "x")).error


def test_treebank_tokens_match_js_rouge():
    assert treebank_tokenize("I can't believe it's not butter!") == [
        "I", "ca", "n't", "believe", "it", "'s", "not", "butter", "!"]
    assert treebank_tokenize('He said "hi" and left...') == [
        "He", "said", "``", "hi", "''", "and", "left", "..."]


def test_porter_stemmer_is_naturals_variant():
    assert [stem(w) for w in ("running", "relational", "cats", "happiness", "agreed")] == [
        "run", "relat", "cat", "happi", "agre"]


async def test_meteor_uses_stems_and_synonyms():
    from harness.assertions.wordnet import WordNetMissing, find_dict_dir

    try:
        find_dict_dir()
    except WordNetMissing:
        r = await run({"type": "meteor", "value": "the cat sat"}, "the cat sat")
        assert r.error and "WordNet" in r.reason
        return
    # promptfoo 0.123.1's own meteor always errors (it cannot load its stemmer); these are
    # the numbers its algorithm gives with the stemmer and WordNet wired (checked by hand)
    r = await run({"type": "meteor", "value": "the cat sat on the mat"},
                  "the cats were sitting on the mat")
    assert r.passed and r.score == pytest.approx(0.7934426229508196)
    r = await run({"type": "meteor", "value": "the fast brown dog jumps"},
                  "a quick brown dog leaps")
    assert r.score == pytest.approx(0.79375)  # quick~fast and leaps→leap~jump: synonyms


# --- response-level checks ---------------------------------------------------------------------


async def test_finish_reason():
    assert (await run({"type": "finish-reason", "value": "STOP"}, "x",
                      finish_reason="stop")).passed
    r = await run({"type": "finish-reason", "value": "stop"}, "x", finish_reason="length")
    assert not r.passed and '"length"' in r.reason
    r = await run({"type": "finish-reason", "value": "stop"}, "x")
    assert not r.passed and "did not supply" in r.reason
    assert (await run({"type": "not-finish-reason", "value": "stop"}, "x")).passed


async def test_perplexity_and_score():
    lp = [-0.1, -0.3]
    r = await run({"type": "perplexity", "threshold": 1.5}, "x", logprobs=lp)
    assert r.passed  # exp(0.2) ≈ 1.22
    assert not (await run({"type": "perplexity", "threshold": 1.1}, "x", logprobs=lp)).passed
    r = await run({"type": "perplexity-score", "threshold": 0.4}, "x", logprobs=lp)
    assert r.passed and r.score == pytest.approx(1 / (1 + 2.718281828 ** 0.2), abs=1e-6)
    r = await run({"type": "perplexity"}, "x")
    assert r.error and "logProbs" in r.reason


@pytest.mark.parametrize(("output", "refusal"), [
    ("I'm sorry, but I can't help with that.", True),
    ("I\u2019m unable to assist with this request", True),
    ("As an AI, I do not have opinions", True),
    ("Sure! Paris is the capital of France.", False),
    ("   ", True),
])
async def test_is_refusal(output, refusal):
    assert (await run({"type": "is-refusal"}, output)).passed is refusal
    assert (await run({"type": "not-is-refusal"}, output)).passed is not refusal


async def test_empty_refusal_scores_zero_like_promptfoo():
    r = await run({"type": "is-refusal"}, "")
    assert r.passed and r.score == 0.0


@pytest.mark.parametrize(("value", "passed"), [
    (3, True), ("3", True), (4, False), ({"min": 2}, True), ({"max": 2}, False),
    ({"min": 1, "max": 3}, True),
])
async def test_word_count(value, passed):
    assert (await run({"type": "word-count", "value": value}, " one  two three ")).passed \
        is passed


async def test_word_count_bad_values_are_errors():
    assert (await run({"type": "word-count", "value": {"min": 5, "max": 1}}, "x")).error
    assert (await run({"type": "word-count", "value": "many"}, "x")).error


# --- tool calls ----------------------------------------------------------------------------------


async def test_tool_call_f1():
    out = json.dumps({"tool_calls": [{"function": {"name": "search", "arguments": "{}"}}]})
    r = await run({"type": "tool-call-f1", "value": "search, book"}, out)
    assert not r.passed and r.score == pytest.approx(2 / 3)
    r = await run({"type": "tool-call-f1", "value": ["search", "book"], "threshold": 0.6}, out)
    assert r.passed
    mixed = 'I will call:\n{"type": "tool_use", "name": "book"}\n'
    assert (await run({"type": "tool-call-f1", "value": "book"}, mixed)).passed


async def test_openai_tools_call_validates_arguments_against_the_schema():
    tools = [{"type": "function", "function": {
        "name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}}]
    good = [{"type": "function", "function": {"name": "get_weather",
                                               "arguments": '{"city": "Paris"}'}}]
    bad = [{"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]
    cfg = {"tools": tools}
    a = {"type": "is-valid-openai-tools-call"}
    assert (await run(a, "", raw_output=good, provider_config=cfg)).passed
    r = await run(a, "", raw_output=bad, provider_config=cfg)
    assert not r.passed and "does not match schema" in r.reason
    r = await run(a, "plain text answer", provider_config=cfg)
    assert not r.passed and "valid-looking tools response" in r.reason
    r = await run(a, "", raw_output=good)
    assert not r.passed and "No tools configured" in r.reason


async def test_function_call_needs_an_openai_provider():
    fn = {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}
    call = {"function_call": {"name": "f", "arguments": '{"x": 1}'}}
    a = {"type": "is-valid-openai-function-call"}
    r = await run(a, "", raw_output=call, provider_id="openai:gpt-4o-mini",
                  provider_config={"functions": [fn]})
    assert r.passed
    r = await run(a, "x", provider_id="echo")
    assert not r.passed and "Provider does not have functionality" in r.reason


# --- python / javascript / webhook ------------------------------------------------------------


async def test_python_inline_and_file(tmp_path):
    assert (await run({"type": "python", "value": "'Paris' in output"}, "Paris!")).passed
    body = "n = len(output)\nreturn {'pass': n > 3, 'score': n / 10, 'reason': f'len {n}'}"
    r = await run({"type": "python", "value": body}, "hello")
    assert r.passed and r.score == pytest.approx(0.5) and r.reason == "len 5"
    script = tmp_path / "check.py"
    script.write_text("def get_assert(output, context):\n"
                      "    return context['vars']['want'] in output\n"
                      "def custom(output, context):\n"
                      "    return 0.25\n")
    r = await run({"type": "python", "value": f"file://{script}"}, "abc", vars={"want": "b"})
    assert r.passed
    r = await run({"type": "python", "value": f"file://{script}:custom", "threshold": 0.5},
                  "abc")
    assert not r.passed and r.score == pytest.approx(0.25)
    r = await run({"type": "not-python", "value": "True"}, "x")
    assert not r.passed and "returned true" in r.reason


async def test_python_errors_fail_the_assertion_and_time_out(setenv):
    r = await run({"type": "python", "value": "1/0"}, "x")
    assert not r.passed and not r.error and "ZeroDivisionError" in r.reason
    setenv("HARNESS_SCRIPT_TIMEOUT_S", "1")
    r = await run({"type": "python", "value": "__import__('time').sleep(30)"}, "x")
    assert not r.passed and "timed out" in r.reason


async def test_code_assertions_only_run_when_allowed():
    r = await evaluate_assertion({"type": "python", "value": "True"}, "x", AssertionContext())
    assert r.error and "registry's runner" in r.reason


async def test_javascript_runs_under_node_or_says_why():
    from harness.promptfoo.node import NodeMissing, find_node

    try:
        find_node()
    except NodeMissing:
        r = await run({"type": "javascript", "value": "output.length > 1"}, "hi")
        assert r.error and "Node.js" in r.reason
        return
    assert (await run({"type": "javascript", "value": "output.length > 1"}, "hi")).passed
    r = await run({"type": "javascript", "value": "const n = output.length; n / 4"}, "hi")
    assert r.passed and r.score == pytest.approx(0.5)
    r = await run({"type": "javascript", "value": "throw new Error('boom')"}, "hi")
    assert not r.passed and "boom" in r.reason


async def test_webhook_posts_output_and_reads_the_verdict():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            answer = {"pass": "yes" in body["output"], "score": 0.75}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/grade"
        r = await run({"type": "webhook", "value": url}, "yes indeed", vars={"q": 1},
                      prompt="p")
        assert r.passed and r.score == pytest.approx(0.75)
        assert seen[0] == {"output": "yes indeed", "context": {"prompt": "p", "vars": {"q": 1}}}
        r = await run({"type": "not-webhook", "value": url}, "yes")
        assert not r.passed and r.score == pytest.approx(0.25)
        r = await run({"type": "webhook", "value": "http://127.0.0.1:9/none"}, "yes")
        assert not r.passed and not r.error and r.reason.startswith("Webhook error:")
    finally:
        server.shutdown()
        server.server_close()


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("a_type", ["pi", "search-rubric", "ruby", "trace-span-count",
                                    "not-classifier"])
def test_unsupported_types_are_refused_by_name(a_type):
    with pytest.raises(ValueError, match=a_type):
        parse_assertions([{"type": a_type, "value": "x"}])


async def test_unsupported_type_at_run_time_is_an_error_naming_it():
    r = await run({"type": "trajectory:tool-used", "value": "x"}, "<p>x</p>")
    assert r.error and "trajectory:tool-used" in r.reason and "not supported" in r.reason


@pytest.mark.parametrize(("output", "is_html", "has_html"), [
    ("<p>Hello</p>", True, True),
    ("Hello <b>world</b>", False, True),  # text straight in an implied <body>
    ("<foo>bar</foo>", False, True),  # no recognised element
    ("<my-widget>x</my-widget>", True, True),  # custom elements count
    ("<?xml version='1.0'?><a/>", False, True),
    ("<html></html>", True, True),
    ("5 < 6 and 7 > 3", False, False),
    ("", False, False),
])
async def test_is_html_and_contains_html(output, is_html, has_html):
    assert (await run({"type": "is-html"}, output)).passed is is_html
    assert (await run({"type": "contains-html"}, output)).passed is has_html


async def test_comparison_types_are_an_error_outside_harness_eval():
    """The registry's runner grades one output at a time: select-best / max-score there
    are an error naming the type, never a silent pass."""
    from harness.assertions import evaluate_assertions

    graded = await evaluate_assertions([{"type": "contains", "value": "x"},
                                        {"type": "select-best", "value": "best"}], "x",
                                       AssertionContext())
    assert graded.error and "select-best" in graded.reason
    deferred = await evaluate_assertions([{"type": "contains", "value": "x"},
                                          {"type": "max-score"}], "x",
                                         AssertionContext(comparisons_deferred=True))
    assert graded.components[0].passed and not deferred.error
    assert [c.type for c in deferred.components] == ["contains"]


async def test_assert_set_is_one_weighted_assertion_with_its_children_listed_after_it():
    from harness.assertions import evaluate_assertions

    graded = await evaluate_assertions([
        {"type": "equals", "value": "nope"},
        {"type": "assert-set", "weight": 3, "threshold": 0.5, "metric": "group",
         "assert": [{"type": "contains", "value": "cat"}, {"type": "contains", "value": "dog"}]},
    ], "the cat sat", AssertionContext(), threshold=0.3)
    assert [c.type for c in graded.components] == ["equals", "assert-set", "contains",
                                                   "contains"]
    set_result = graded.components[1]
    assert set_result.passed and set_result.score == pytest.approx(0.5)
    assert graded.score == pytest.approx((0 + 0.5 * 3) / 4) and graded.passed
    assert graded.named_scores == {"group": pytest.approx(0.5)}
    with pytest.raises(ValueError, match="assert-set"):
        parse_assertions([{"type": "not-assert-set", "assert": []}])
    with pytest.raises(ValueError, match="'value' is required"):
        parse_assertions([{"type": "assert-set", "assert": [{"type": "contains"}]}])


async def test_transform_replaces_the_output_for_one_assertion_only():
    from harness.assertions import evaluate_assertions
    from harness.promptfoo.node import NodeMissing, find_node

    try:
        find_node()
    except NodeMissing:
        r = await run({"type": "equals", "value": "X", "transform": "output.toUpperCase()"}, "x")
        assert r.error and "Node.js" in r.reason
        return
    graded = await evaluate_assertions(
        [{"type": "equals", "value": "HI", "transform": "output.toUpperCase()"},
         {"type": "equals", "value": "hi"}], "hi", AssertionContext(allow_code=True))
    assert [c.passed for c in graded.components] == [True, True]
    r = await run({"type": "is-json", "transform": "JSON.parse(output).a"}, '{"a": [1, 2]}')
    assert r.passed
    r = await run({"type": "equals", "value": "x", "transform": "undefined"}, "x")
    assert r.error and "did not return a value" in r.reason
    r = await evaluate_assertion({"type": "equals", "value": "X", "transform": "output"}, "X",
                                 AssertionContext())
    assert r.error and "registry's runner" in r.reason


async def test_guardrails_flags_only_a_content_filter_stop():
    assert (await run({"type": "guardrails"}, "fine")).passed
    r = await run({"type": "guardrails"}, "", finish_reason="content_filter")
    assert not r.passed and "safety" in r.reason
    assert (await run({"type": "not-guardrails"}, "", finish_reason="content_filter")).passed


async def test_context_transform_feeds_the_context_assertions():
    from harness.promptfoo.node import NodeMissing, find_node

    try:
        find_node()
    except NodeMissing:
        pytest.skip("contextTransform runs under Node ≥ 22.22 (tools/promptfoo/install.sh)")
    seen = []

    async def judge(messages, provider):
        seen.append(messages[-1]["content"])
        return "1. Paris is the capital. [Attributed]"

    r = await run({"type": "context-recall", "value": "Paris is the capital.",
                   "contextTransform": "JSON.parse(output).docs.join(' ')"},
                  '{"docs": ["Paris is", "the capital of France."]}', judge=judge, prompt="q")
    assert r.passed and "Paris is the capital of France." in seen[0]
    r = await run({"type": "context-recall", "value": "v", "contextTransform": "42"}, "x",
                  judge=judge, prompt="q")
    assert r.error and "string or array of strings" in r.reason
