"""The direct engine: one model call per planned question.

The model gets the question's passages and kind and answers with a JSON object
``{"question", "answer"}``; the answer is validated by :class:`QuestionAnswer` and a
malformed one gets a repair request (the scorer's :class:`JudgeSession` does the call,
the parse and the repair, through ``LLMClient``: retries, fallbacks, cache, tokens,
cost). A question whose call fails for good, or whose answers stay malformed, becomes an
error naming its documents; the other questions go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from harness.llm import LLMClient, LLMError
from harness.scoring.judge import JudgeConfig, JudgeOutputError, JudgeSession, Usage

from .cases import Outcome, QuestionAnswer
from .chunking import Chunk
from .plan import KIND_DESCRIPTIONS, PlannedQuestion

SYSTEM_PROMPT = (
    "You write test data for evaluating an assistant that answers questions from a "
    "company's documents. Reply with one JSON object with the keys \"question\" and "
    "\"answer\", and nothing else: no prose and no code fences."
)

_KIND_TASKS = {
    "simple": "Ask one question that a single fact stated in the passage answers.",
    "reasoning": ("Ask one question whose answer is not a copied sentence: it needs a step of "
                  "reasoning over the passage, such as comparing, inferring or applying a "
                  "rule it states to a case."),
    "multi_context": ("Ask one question that can only be answered by combining information "
                      "from every passage below; each passage alone is not enough."),
}


def question_prompt(item: PlannedQuestion, chunks: Sequence[Chunk], language: str) -> str:
    """The user message asking for ``item`` about ``chunks``."""
    lines = [
        f"Write one {item.kind.replace('_', '-')} test question in {language} and its "
        "reference answer.",
        "",
        f"{_KIND_TASKS[item.kind]} ({KIND_DESCRIPTIONS[item.kind]})",
        "- Someone who has not seen the passages must understand the question: do not write "
        "\"according to the passage\" or \"in the text\".",
        "- The answer must be complete and correct according to the passages alone, written "
        f"in {language}.",
    ]
    if item.visit:
        lines.append(f"- Other questions were already asked about this passage: ask about a "
                     f"different detail than its main point (variation {item.visit + 1}).")
    for i, chunk in enumerate(chunks, 1):
        where = f", {chunk.location}" if chunk.location else ""
        lines += ["", f"Passage {i} (from \"{chunk.document}\"{where}):", '"""', chunk.text,
                  '"""']
    lines += ["", 'Reply with only: {"question": "...", "answer": "..."}']
    return "\n".join(lines)


class DirectEngine:
    name = "direct"
    plans_whole = False  # works batch by batch

    def __init__(self, llm: LLMClient, model: str, *, params: dict | None = None,
                 concurrency: int = 8, max_retries: int = 3, parse_retries: int = 2,
                 timeout_s: float = 120.0, usage: Usage | None = None) -> None:
        self.config = JudgeConfig(model=model, params=dict(params or {}),
                                  max_retries=max_retries, timeout_s=timeout_s,
                                  parse_retries=parse_retries, system_prompt=SYSTEM_PROMPT)
        self.llm = llm
        self.limiter = asyncio.Semaphore(concurrency)
        self.usage = usage if usage is not None else Usage()

    @property
    def label(self) -> str:
        return self.name

    async def _one(self, item: PlannedQuestion, chunks: list[Chunk], language: str
                   ) -> Outcome:
        outcome = Outcome(item=item, contexts=chunks)
        session = JudgeSession(self.llm, self.config, self.limiter, self.usage)
        try:
            outcome.qa = await session.generate(question_prompt(item, chunks, language),
                                                QuestionAnswer)
        except JudgeOutputError as exc:
            outcome.error = f"the model's answer stayed unusable: {exc}"
        except LLMError as exc:
            outcome.error = f"the model call failed: {exc}"
        return outcome

    async def generate(self, items: Sequence[PlannedQuestion], chunks: Sequence[Chunk],
                       language: str) -> list[Outcome]:
        """One outcome per item, in order."""
        return list(await asyncio.gather(*[
            self._one(item, [chunks[i] for i in item.chunks], language) for item in items]))
