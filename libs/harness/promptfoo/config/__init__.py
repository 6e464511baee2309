"""Reading a promptfoo config (``promptfooconfig.yaml``) into an :class:`EvalPlan`.

What is read, as promptfoo reads it:

- ``prompts``: inline strings (a JSON list of chat messages is a chat prompt), ``file://``
  paths and simple globs (``.txt`` split on ``---`` lines, ``.md``, ``.j2``, ``.json`` /
  ``.yaml`` incl. chat-message arrays, ``.jsonl``, ``.csv``), ``{id, label, raw, config}``
  objects and the legacy ``{path: label}`` map;
- ``providers`` (or ``targets``): ids, ``{id, label, config, prompts}`` objects, the
  ``{id: options}`` map form and ``file://`` provider files; ids map to LiteLLM models and
  ``config`` to LiteLLM parameters (:func:`harness.evaluation.providers.to_litellm_params`);
- ``tests``: inline, ``file://`` CSV / YAML / JSON / JSONL files, globs, or a list of these;
  CSV columns follow promptfoo's ``__expected`` conventions (:mod:`harness.promptfoo.csv_tests`);
- ``defaultTest`` (inline or ``file://``) merged into every test; ``vars`` whose values are
  lists expand into the cartesian product, as do ``file://`` globs in vars;
- per-test ``assert``, ``threshold``, ``options``, ``metadata``, ``description`` and the
  ``providers`` / ``prompts`` filters; ``evaluateOptions.maxConcurrency`` / ``repeat`` and
  ``outputPath`` as defaults for the CLI.

Targets are prompts × providers in promptfoo's column order (provider-major), so a
target's index is promptfoo's ``promptIdx``. Paths are relative to the file that names
them. Anything harness cannot run faithfully (code assertions, custom providers, output
transforms, ...) is a :class:`ConfigError` naming the file and the field, never silently
skipped.

Modules: :mod:`.plan` (what a config becomes), :mod:`.files` (finding the config, reading
YAML / JSON files); private ones read one part each: ``_prompts``, ``_providers``,
``_cases`` (tests, defaultTest, vars), ``_asserts``, and ``_loader`` the whole config.
"""

from ._loader import load_config
from .files import CONFIG_NAMES, find_config, read_structured
from .plan import (
    EvalPlan,
    PromptSpec,
    ProviderSpec,
    is_prompt_allowed,
    is_provider_allowed,
    target_label,
)

__all__ = [
    "CONFIG_NAMES",
    "EvalPlan",
    "PromptSpec",
    "ProviderSpec",
    "find_config",
    "is_prompt_allowed",
    "is_provider_allowed",
    "load_config",
    "read_structured",
    "target_label",
]
