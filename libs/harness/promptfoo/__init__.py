"""promptfoo interop: run ``promptfooconfig.yaml`` with harness's engine, write and read
promptfoo's results file, or run the real promptfoo CLI.

    plan = load_config("promptfooconfig.yaml")        # -> EvalPlan (targets × cases)
    outcome = await run_plan(plan, llm=LLMClient())  # -> EvalOutcome (CaseResults)
    data = to_promptfoo_json(plan, outcome)          # promptfoo's ``-o results.json``
    targets, cases, results = from_promptfoo_json(data)

``eval_command`` is the ``harness eval`` command; ``engine_promptfoo`` runs promptfoo
itself (Node.js ≥ 22).
"""

from .command import EXIT_FAILED, EXIT_OK, EXIT_USAGE, eval_command
from .config import EvalPlan, PromptSpec, ProviderSpec, load_config
from .csv_tests import assertion_from_string, csv_row_to_test
from .engine import engine_promptfoo, promptfoo_command
from .errors import ConfigError, PromptfooRunError, PromptfooUnavailable
from .output import from_promptfoo_json, to_promptfoo_csv, to_promptfoo_json
from .run import EvalOutcome, run_plan

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ConfigError",
    "EvalOutcome",
    "EvalPlan",
    "PromptSpec",
    "PromptfooRunError",
    "PromptfooUnavailable",
    "ProviderSpec",
    "assertion_from_string",
    "csv_row_to_test",
    "engine_promptfoo",
    "eval_command",
    "from_promptfoo_json",
    "load_config",
    "promptfoo_command",
    "run_plan",
    "to_promptfoo_csv",
    "to_promptfoo_json",
]
