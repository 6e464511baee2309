"""What a metric sees of a result: fields taken from the snapshot case and the output."""

from __future__ import annotations

from harness.evaluation.models import CaseResult, MetricResult
from services.scorer.inputs import last_user_message, scoring_input
from services.scorer.worker import todo


def result(**kw) -> CaseResult:
    return CaseResult(**{"run_id": "r", "case_id": "c1", "target_id": "t0", "status": "pass",
                         "output": "Paris.", **kw})


def test_fields_come_from_the_case_its_input_then_its_metadata():
    case = {"id": "c1", "input": {"question": "Capital of France?", "contexts": ["A", "B"]},
            "expected_output": "Paris.", "metadata": {"reference_contexts": "A"}}
    got = scoring_input(case, result())
    assert (got.question, got.answer, got.contexts, got.reference, got.reference_contexts) \
        == ("Capital of France?", "Paris.", ["A", "B"], "Paris.", ["A"])


def test_ragas_names_and_a_single_passage_are_accepted():
    case = {"id": "c1", "input": {"user_input": "Q?"},
            "metadata": {"retrieved_contexts": "one passage", "ground_truth": "G."}}
    got = scoring_input(case, result())
    assert (got.question, got.contexts, got.reference) == ("Q?", ["one passage"], "G.")


def test_a_top_level_field_wins_and_blank_values_are_skipped():
    case = {"id": "c1", "contexts": ["top"], "expected_output": "",
            "input": {"contexts": ["input"], "reference": ""},
            "metadata": {"reference": "from metadata"}}
    got = scoring_input(case, result(rendered_prompt="Tell me."))
    assert got.contexts == ["top"] and got.reference == "from metadata"


def test_without_a_question_variable_the_prompt_sent_is_the_question():
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "First?"},
            {"role": "assistant", "content": "Yes."}, {"role": "user", "content": "Second?"}]
    assert scoring_input({"id": "c1"}, result(rendered_prompt=chat)).question == "Second?"
    assert scoring_input({"id": "c1"}, result(rendered_prompt="Tell me.")).question == "Tell me."
    assert last_user_message(None) is None


def test_a_failed_model_call_has_no_answer_and_nothing_is_invented():
    got = scoring_input({"id": "c1"}, result(status="error", output=None, error="timeout"))
    assert got.answer is None and got.contexts is None and got.reference is None
    assert not got.present("answer")


def test_todo_leaves_out_what_is_recorded():
    done = MetricResult(status="ok", value=1.0)
    full = result(case_id="a", scores={"bleu": done, "rouge": done})
    half = result(case_id="b", scores={"bleu": done})
    none = result(case_id="c")
    assert [(r.case_id, m) for r, m in todo([full, half, none], ["bleu", "rouge"])] == [
        ("b", ["rouge"]), ("c", ["bleu", "rouge"])]
