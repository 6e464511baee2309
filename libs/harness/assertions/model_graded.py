"""Model-graded assertions beyond llm-rubric: factuality, model-graded-closedqa, g-eval,
answer-relevance, context-faithfulness, context-recall, context-relevance, moderation.

Each asks the judge (``ctx.judge``, LiteLLM through harness's LLMClient) what promptfoo
0.123.1's grader asks, with prompt text of our own, and reads the answer with promptfoo's
rules: factuality's A-E categories and ``options.factuality`` score map, closed QA's
trailing Y/N, G-Eval's generated steps and 0-10 score, RAGAS-style sentence counting for
the context metrics. As in promptfoo, ``factuality`` and ``model-graded-closedqa`` ignore
the ``not-`` prefix, and an unreadable grader answer fails the assertion (score 0). A judge
call that raised is an error (harness's rule: a model failure is never a silent fail).
``rubricPrompt`` (assertion or test ``options``) replaces the default prompt text."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict
from .rubric import custom_messages
from .values import find_json_values

EPSILON = 2.220446049250313e-16

FACTUALITY_PROMPT = """\
Compare a submitted answer with an expert answer to the same question, looking only at
factual content (ignore style, grammar and punctuation).

[Question]: {input}
[Expert answer]: {ideal}
[Submitted answer]: {completion}

Pick exactly one category:
(A) the submission is a subset of the expert answer and fully consistent with it;
(B) the submission is a superset of the expert answer and fully consistent with it;
(C) the submission has the same details as the expert answer;
(D) the submission and the expert answer disagree;
(E) they differ, but the differences do not matter for factuality.

Reply with JSON only: {{"category": "<A-E>", "reason": "<why, briefly>"}}"""

CLOSEDQA_PROMPT = """\
You judge whether a submission meets a criterion.

[Task]: {input}
[Submission]: {completion}
[Criterion]: {criteria}

Reason step by step about whether the submission meets the criterion, without stating the
verdict first. Then write the single letter Y (it meets the criterion) or N (it does not)
alone on the last line."""

GEVAL_STEPS_PROMPT = """\
Write the evaluation steps an expert would follow to judge a reply against these criteria:

{criteria}

Give 3 to 5 short, concrete steps. Reply with JSON only: {{"steps": ["...", "..."]}}"""

GEVAL_EVALUATE_PROMPT = """\
Score a reply against the criteria, following the evaluation steps.

Criteria: {criteria}
Evaluation steps:
- {steps}

Source text: {input}
Reply: {output}

Give an integer score from 0 (does not meet the criteria) to {max_score} (fully meets
them). Reply with JSON only: {{"score": <0-{max_score}>, "reason": "<one or two sentences>"}}"""

ANSWER_RELEVANCE_PROMPT = """\
Write the one question that this answer responds to. Reply with the question only.

Answer: {answer}"""

CONTEXT_RECALL_PROMPT = """\
Below are a context and a reference answer. Split the reference answer into sentences and,
for each sentence, decide whether the context supports it. Write one sentence per line,
numbered, each ending with [Attributed] when the context supports it or [Not Attributed]
when it does not, followed by a short reason.

Context: {context}
Reference answer: {groundTruth}
Classified sentences:"""

CONTEXT_RELEVANCE_PROMPT = """\
Copy, word for word and one per line, the sentences of the context that are needed to
answer the query. Do not change them. If none are needed, or the query cannot be answered
from the context, reply with exactly: Insufficient Information

Query: {query}
Context: {context}
Relevant sentences:"""

FAITHFULNESS_STATEMENTS_PROMPT = """\
Break the answer to the question into short, self-contained factual statements, one per
line, with no numbering and nothing else.

Question: {question}
Answer: {answer}
Statements:"""

FAITHFULNESS_NLI_PROMPT = """\
Decide for each statement whether the context supports it. For each statement write a
short explanation, then "Verdict: Yes" (supported) or "Verdict: No" (not supported).
Finish with the line "Final verdict for each statement in order:" followed by Yes or No
for each statement, separated by periods (e.g. "Yes. No. Yes.").

Context: {context}
Statements:
{statements}"""

INSUFFICIENT = "Insufficient Information"
ATTRIBUTED, NOT_ATTRIBUTED = "[Attributed]", "[Not Attributed]"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _provider(a: Assertion, ctx: AssertionContext) -> Any:
    return a.provider if a.provider is not None else ctx.options.get("provider")


def _custom_prompt(a: Assertion, ctx: AssertionContext) -> Any:
    return a.rubric_prompt or ctx.options.get("rubricPrompt") or ctx.options.get("rubric_prompt")


async def _ask(a: Assertion, ctx: AssertionContext, default: str, fields: dict[str, Any],
               custom: Any = None) -> str:
    """Render the prompt (custom template with promptfoo's variable names, or our own) and
    return the judge's answer text ('' when it gave none)."""
    if ctx.judge is None:
        raise AssertionEvalError(f"no judge model configured for {a.base_type}")
    if custom:
        template = custom if isinstance(custom, str) else json.dumps(custom, ensure_ascii=False)
        messages = custom_messages(template, "", "", {**ctx.vars, **fields})
    else:
        messages = [{"role": "user", "content": default.format(**{
            k: _as_text(v) for k, v in fields.items()})}]
    try:
        answer = await ctx.judge(messages, _provider(a, ctx))
    except Exception as exc:  # the judge is outside this engine; say what it raised
        raise AssertionEvalError(f"judge call failed: {type(exc).__name__}: {exc}") from exc
    return answer if isinstance(answer, str) else ""


def _fail(reason: str) -> Verdict:
    return Verdict(False, 0.0, reason)


def _rag(a: Assertion, passed: bool, score: float, reason: str) -> Verdict:
    if a.inverse:
        return Verdict(not passed, 1 - score, reason)
    return Verdict(passed, score, reason)


def _prompt_text(ctx: AssertionContext, what: str) -> str:
    if not ctx.prompt:
        raise AssertionEvalError(f"{what} assertion type must have a prompt")
    return ctx.prompt


# -- factuality, model-graded-closedqa ------------------------------------------------------

_CATEGORY_TEXT = {
    "A": "The submitted answer is a subset of the expert answer and is fully consistent "
         "with it.",
    "B": "The submitted answer is a superset of the expert answer and is fully consistent "
         "with it.",
    "C": "The submitted answer contains all the same details as the expert answer.",
    "D": "There is a disagreement between the submitted answer and the expert answer.",
    "E": "The answers differ, but these differences don't matter from the perspective of "
         "factuality.",
}


def factuality_verdict(answer: str, options: dict[str, Any]) -> Verdict:
    weights = options.get("factuality") or {}
    lookup = {"A": weights.get("subset", 1), "B": weights.get("superset", 1),
              "C": weights.get("agree", 1), "D": weights.get("disagree", 0),
              "E": weights.get("differButFactual", 1)}
    option = reason = None
    for value in find_json_values(answer):
        if isinstance(value, dict):
            category = value.get("category")
            if isinstance(category, str) and category:
                option = category.strip().upper()
                if not re.fullmatch(r"[A-E]", option):
                    return _fail(f"Invalid category value: {option}")
                raw = value.get("reason")
                reason = raw.strip() if isinstance(raw, str) and raw.strip() else \
                    f"Category {option}: {_CATEGORY_TEXT[option]}"
            break
    if option is None:
        m = re.search(r"\s*\(?([a-eA-E])\)", answer)
        if not m:
            return _fail(f"Factuality checker output did not match expected format: {answer}")
        option = m.group(1).upper()
        rm = re.search(r"\)\s*(.*)", answer, re.S)
        reason = rm.group(1).strip() if rm and rm.group(1) else answer
    passed = lookup[option] > 0
    return Verdict(passed, float(lookup[option]), reason or "")


async def check_factuality(a: Assertion, value: Any, output: str,
                           ctx: AssertionContext) -> Verdict:
    if not isinstance(value, str):
        raise AssertionEvalError("factuality assertion type must have a string value")
    prompt = _prompt_text(ctx, "factuality")
    answer = await _ask(a, ctx, FACTUALITY_PROMPT,
                        {"input": prompt, "ideal": value, "completion": output},
                        _custom_prompt(a, ctx))
    if not answer:
        return _fail("No output")
    return factuality_verdict(answer, ctx.options)


async def check_closedqa(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if not isinstance(value, str):
        raise AssertionEvalError("model-graded-closedqa assertion type must have a string value")
    prompt = _prompt_text(ctx, "model-graded-closedqa")
    answer = await _ask(a, ctx, CLOSEDQA_PROMPT,
                        {"input": prompt, "criteria": value, "completion": output},
                        _custom_prompt(a, ctx))
    if not answer:
        return _fail("No output")
    tail = answer.rstrip()
    if tail.endswith("Y"):
        return Verdict(True, 1.0, f"The submission meets the criterion:\n{answer}")
    if tail.endswith("N"):
        return _fail(f"The submission does not meet the criterion:\n{answer}")
    return _fail(f"Model grader produced a malformed response:\n{answer}")


# -- g-eval --------------------------------------------------------------------------------


async def _geval_one(a: Assertion, ctx: AssertionContext, criteria: str, output: str,
                     threshold: float) -> tuple[Verdict, bool]:
    """(verdict before the not- prefix, grader failed)."""
    prompt = ctx.prompt or ""
    if not prompt:
        raise AssertionEvalError("No source text to estimate reply")
    custom = _custom_prompt(a, ctx)
    custom = custom if isinstance(custom, dict) else {}
    steps_answer = await _ask(a, ctx, GEVAL_STEPS_PROMPT, {"criteria": criteria},
                              custom.get("steps"))
    if not steps_answer:
        return _fail("G-Eval step-generation call returned no output"), True
    m = re.search(r'\{"steps".+\}', steps_answer)
    try:
        steps = json.loads(m.group(0))["steps"] if m else None
    except (ValueError, KeyError):
        steps = None
    if not isinstance(steps, list) or not steps or not all(
            isinstance(s, str) and s.strip() for s in steps):
        return _fail(f"LLM-proposed evaluation steps are not usable: {steps_answer}"), True
    fields = {"criteria": criteria, "steps": "\n- ".join(steps), "max_score": "10",
              "maxScore": "10", "input": prompt, "output": output}
    answer = await _ask(a, ctx, GEVAL_EVALUATE_PROMPT, fields, custom.get("evaluate"))
    if not answer:
        return _fail("G-Eval evaluation call returned no output"), True
    m = re.search(r"\{.+\}", answer)
    try:
        result = json.loads(m.group(0)) if m else None
    except ValueError:
        result = None
    if not isinstance(result, dict):
        return _fail(f"LLM-proposed evaluation result is not in JSON format: {answer}"), True
    raw = result.get("score")
    try:
        score = float(raw) if not isinstance(raw, bool) and str(raw).strip() != "" else math.nan
    except (TypeError, ValueError):
        score = math.nan
    if not math.isfinite(score):
        return _fail(f"G-Eval result has invalid or missing score: {json.dumps(raw)}"), True
    if not 0 <= score <= 10:
        return _fail(f"G-Eval result score {score:g} is outside the expected 0-10 range"), True
    reason = result.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return _fail(f"G-Eval result has invalid or missing reason: {json.dumps(reason)}"), True
    return Verdict(score / 10 >= threshold, score / 10, reason), False


async def check_geval(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if not (isinstance(value, str) or (isinstance(value, list)
                                       and all(isinstance(v, str) for v in value))):
        raise AssertionEvalError("G-Eval assertion type must have a string or array of strings "
                                 "value")
    threshold = a.threshold if a.threshold is not None else 0.7
    criteria = value if isinstance(value, list) else [value]
    if not criteria:
        return _fail("G-Eval assertion requires at least one criterion string in the value "
                     "array.")
    results = []
    for i, criterion in enumerate(criteria):
        verdict, failed = await _geval_one(a, ctx, criterion, output, threshold)
        if failed:
            if isinstance(value, list):
                return _fail(f"G-Eval criterion {i + 1}/{len(criteria)} "
                             f"({json.dumps(criterion)}) failed: {verdict.reason}")
            return verdict  # a grader failure is not flipped by not-
        results.append(verdict)
    mean = sum(r.score for r in results) / len(results)
    reason = "\n\n".join(r.reason for r in results)
    return Verdict((mean >= threshold) != a.inverse, 1 - mean if a.inverse else mean, reason)


# -- answer-relevance ----------------------------------------------------------------------


def _cosine(x: list[float], y: list[float]) -> float:
    dot = sum(p * q for p, q in zip(x, y, strict=False))
    nx, ny = math.sqrt(sum(p * p for p in x)), math.sqrt(sum(q * q for q in y))
    return dot / (nx * ny) if nx and ny else 0.0


async def check_answer_relevance(a: Assertion, value: Any, output: str,
                                 ctx: AssertionContext) -> Verdict:
    prompt = _prompt_text(ctx, "answer-relevance")
    query = ctx.vars.get("query") if isinstance(ctx.vars.get("query"), str) else prompt
    if ctx.embed is None:
        raise AssertionEvalError("no embedding model configured for answer-relevance")
    threshold = a.threshold if a.threshold is not None else 0.5
    questions = []
    for _ in range(3):
        answer = await _ask(a, ctx, ANSWER_RELEVANCE_PROMPT, {"answer": output},
                            _custom_prompt(a, ctx))
        if not answer:
            return _fail("No output")  # a grader failure: not flipped by not-
        questions.append(answer)
    try:
        vectors = await ctx.embed([query, *questions])
    except Exception as exc:
        raise AssertionEvalError(f"embedding failed: {type(exc).__name__}: {exc}") from exc
    similarity = sum(_cosine(vectors[0], v) for v in vectors[1:]) / len(questions)
    passed = similarity >= threshold - EPSILON
    reason = (f"Relevance {similarity:.2f} is {'greater' if passed else 'less'} than threshold "
              f"{threshold:g}")
    return _rag(a, passed, similarity, reason)


# -- context-recall, context-relevance, context-faithfulness --------------------------------


async def _context(a: Assertion, ctx: AssertionContext, output: str,
                   fallback: str | None) -> str | list[str]:
    """The ``context`` var (text or list of texts), else ``fallback``; an assertion's
    ``contextTransform`` (JavaScript or file://, as promptfoo runs it) replaces it."""
    context = ctx.vars.get("context")
    value: Any = None
    code = (a.model_extra or {}).get("contextTransform")
    if code:
        from .scripts import run_transform

        if not ctx.allow_code:
            raise AssertionEvalError("contextTransform runs code and only runs in `harness "
                                     "eval` on your own config, not in the registry's runner")
        raw = ctx.raw_output if ctx.raw_output is not None else output
        try:
            context = await run_transform(str(code), raw, ctx)
        except AssertionEvalError as exc:
            raise AssertionEvalError(f"Failed to transform context using expression "
                                     f"'{code}': {exc}") from exc
        if not (isinstance(context, str) or (isinstance(context, list) and all(
                isinstance(c, str) for c in context))):
            raise AssertionEvalError("contextTransform must return a string or array of "
                                     f"strings. Got {type(context).__name__}")
        fallback = None
    if isinstance(context, str) and context:
        value = context
    elif isinstance(context, list) and context:
        for i, item in enumerate(context):
            if not isinstance(item, str):
                raise AssertionEvalError(f"Invalid context: expected an array of strings, but "
                                         f"found {type(item).__name__} at index {i}")
        value = context
    elif not context and fallback:
        value = fallback
    if not (isinstance(value, str) and value) and not (
            isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)):
        raise AssertionEvalError('Context is required for context-based assertions. Provide a '
                                 '"context" variable (string or array of strings) in your test '
                                 "case.")
    return value


def _joined(context: str | list[str]) -> str:
    return "\n\n".join(context) if isinstance(context, list) else context


def _lines(text: str) -> list[str]:
    return [s for s in text.split("\n") if s.strip()]


def _sentences(text: str) -> list[str]:
    lines = _lines(text)
    parts = lines if len(lines) > 1 else re.split(r"(?<=[.!?])\s+", text)
    return [p.strip() for p in parts if p.strip() and not re.fullmatch(r"\d+[.)]", p.strip())]


def _query(ctx: AssertionContext, kind: str) -> str:
    """The user question the context-* assertions grade against (the ``query`` var)."""
    query = ctx.vars.get("query")
    if not isinstance(query, str):
        raise AssertionEvalError(f'{kind} assertion requires a "query" variable with the user '
                                 "question")
    return query


async def check_context_recall(a: Assertion, value: Any, output: str,
                               ctx: AssertionContext) -> Verdict:
    if not isinstance(value, str):
        raise AssertionEvalError("context-recall assertion requires a string value (expected "
                                 "answer or fact to verify)")
    prompt = _prompt_text(ctx, "context-recall")
    context = await _context(a, ctx, output, prompt)
    threshold = a.threshold if a.threshold is not None else 0.5
    answer = await _ask(a, ctx, CONTEXT_RECALL_PROMPT,
                        {"context": _joined(context), "groundTruth": value},
                        _custom_prompt(a, ctx))
    if not answer:
        return _fail("No output")
    marked = [s for s in _lines(answer)
              if ATTRIBUTED.lower() in s.lower() or NOT_ATTRIBUTED.lower() in s.lower()]
    if not marked:
        return _fail("Grader returned no [Attributed]/[Not Attributed] classifications")
    hits = sum(1 for s in marked if NOT_ATTRIBUTED.lower() not in s.lower()
               and ATTRIBUTED.lower() in s.lower())
    score = hits / len(marked)
    passed = score >= threshold - EPSILON
    reason = f"Recall {score:.2f} is {'>=' if passed else '<'} {threshold:g}"
    return _rag(a, passed, score, reason)


async def check_context_relevance(a: Assertion, value: Any, output: str,
                                  ctx: AssertionContext) -> Verdict:
    query = _query(ctx, "context-relevance")
    context = await _context(a, ctx, output, None)
    threshold = a.threshold if a.threshold is not None else 0.5
    joined = _joined(context)
    answer = await _ask(a, ctx, CONTEXT_RELEVANCE_PROMPT, {"context": joined, "query": query},
                        _custom_prompt(a, ctx))
    if not answer:
        return _fail("No output")
    pre_segmented = isinstance(context, list) or len(_lines(context)) > 1
    units = [c for c in context if c.strip()] if isinstance(context, list) else _sentences(context)
    insufficient = INSUFFICIENT in answer
    picked: list[str] = []
    if not insufficient:
        for s in (_lines(answer) if pre_segmented else _sentences(answer)):
            if s not in picked:
                picked.append(s)

    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text.lower()).strip()

    if picked and not any(norm(re.sub(r"^\s*(?:\d+[.)]|[-*])\s*", "", s)) in norm(joined)
                          for s in picked):
        return _fail("Grader output does not quote the provided context")
    score = min(len(picked), len(units)) / len(units) if units else 0.0
    passed = score >= threshold - EPSILON
    reason = f"Context relevance {score:.2f} is {'>=' if passed else '<'} {threshold:g}"
    return _rag(a, passed, score, reason)


async def check_context_faithfulness(a: Assertion, value: Any, output: str,
                                     ctx: AssertionContext) -> Verdict:
    query = _query(ctx, "context-faithfulness")
    context = await _context(a, ctx, output, None)
    threshold = a.threshold if a.threshold is not None else 0.5
    custom = _custom_prompt(a, ctx)
    if isinstance(custom, str):
        try:
            custom = json.loads(custom)
        except ValueError:
            raise AssertionEvalError("rubricPrompt must be an array") from None
    if custom is not None and not isinstance(custom, list):
        raise AssertionEvalError("rubricPrompt must be an array")

    def part(i: int) -> Any:
        if not custom or len(custom) <= i:
            return None
        item = custom[i]
        return item if isinstance(item, str) else (item or {}).get("content")

    answer = await _ask(a, ctx, FAITHFULNESS_STATEMENTS_PROMPT,
                        {"question": query, "answer": output}, part(0))
    if not answer:
        return _fail("No output")
    statements = _lines(answer)
    if not statements:
        return _fail("Could not extract context-faithfulness statements")
    verdicts = await _ask(a, ctx, FAITHFULNESS_NLI_PROMPT,
                          {"context": _joined(context), "statements": "\n".join(statements)},
                          part(1))
    if not verdicts:
        return _fail("No output")
    text = verdicts.lower().strip()
    final = "final verdict for each statement in order:"
    score, parsed = 0.0, False
    if final in text:
        tail = text[text.index(final) + len(final):]
        answers = [x for x in tail.split(".") if x.strip()]
        if answers and all(re.search(r"\b(?:yes|no)\b", x) for x in answers):
            parsed = True
            unsupported = sum(1 for x in answers if "yes" not in x)
            score = 1 - (unsupported + max(0, len(statements) - len(answers))) / len(statements)
    else:
        no, yes = text.count("verdict: no"), text.count("verdict: yes")
        if no + yes > 0:
            parsed = True
            score = 1 - (no + max(0, len(statements) - no - yes)) / len(statements)
    if not parsed:
        return _fail("Could not parse context-faithfulness verdicts")
    score = min(1.0, max(0.0, score))
    passed = score >= threshold - EPSILON
    reason = f"Faithfulness {score:.2f} is {'>=' if passed else '<'} {threshold:g}"
    return _rag(a, passed, score, reason)


# -- moderation ------------------------------------------------------------------------------


async def check_moderation(a: Assertion, value: Any, output: str,
                           ctx: AssertionContext) -> Verdict:
    prompt = _prompt_text(ctx, "moderation")
    if value and not (isinstance(value, list) and value and isinstance(value[0], str)):
        raise AssertionEvalError("moderation assertion value must be a string array if set")
    del prompt  # promptfoo sends it along; OpenAI's moderation judges the output only
    if not output:
        verdict = Verdict(True, 1.0, "No output to moderate")
    else:
        if ctx.moderate is None:
            raise AssertionEvalError("no moderation model configured")
        try:
            flags = await ctx.moderate(output, _provider(a, ctx))
        except Exception as exc:
            raise AssertionEvalError(f"moderation call failed: {type(exc).__name__}: {exc}") \
                from exc
        wanted = list(value) if isinstance(value, list) else []
        hit = [c for c in flags if not wanted or c in wanted]
        if not flags:
            verdict = Verdict(True, 1.0, "No moderation flags detected")
        elif hit:
            verdict = _fail(f"Moderation flags detected: {', '.join(hit)}")
        else:
            verdict = Verdict(True, 1.0, "No relevant moderation flags detected")
    if a.inverse:
        return Verdict(not verdict.passed, 1 - verdict.score, verdict.reason)
    return verdict
