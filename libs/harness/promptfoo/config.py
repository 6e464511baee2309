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
  CSV columns follow promptfoo's ``__expected`` conventions (:mod:`.csv_tests`);
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
"""

from __future__ import annotations

import base64
import copy
import glob
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from harness import templating
from harness.assertions import SUPPORTED_TYPES, merge_default_test
from harness.assertions.more_types import SCRIPT_TYPES, unsupported_reason
from harness.assertions.shorthand import PROMPTFOO_ASSERTION_TYPES
from harness.evaluation.models import Target, TestCaseSnapshot
from harness.evaluation.providers import UnknownProvider, to_litellm_model, to_litellm_params

from .csv_tests import csv_to_tests
from .errors import ConfigError

CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")

_CODE_EXTENSIONS = (".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".py", ".sh", ".bash",
                    ".rb", ".pl", ".exe", ".bat", ".cmd", ".ps1", ".go")
_KNOWN_FILE_EXTENSIONS = (".txt", ".md", ".j2", ".json", ".jsonl", ".yaml", ".yml", ".csv",
                          *_CODE_EXTENSIONS)
_GLOB_CHARS = re.compile(r"[*?\[]")

# Config keys: read, ignored with a warning, or refused.
_TOP_KEYS = {"description", "prompts", "providers", "targets", "tests", "defaultTest",
             "evaluateOptions", "outputPath"}
_TOP_IGNORED = {
    "tags": None, "metadata": None, "sharing": None, "writeLatestResults": None,
    "commandLineOptions": None, "tracing": "tracing is not supported",
    "env": "env overrides are not applied; set these variables in the environment instead",
}
_TOP_UNSUPPORTED = {
    "scenarios": "scenarios are not supported; list the tests instead",
    "nunjucksFilters": "custom Nunjucks filters (JavaScript) are not supported",
    "extensions": "extension hooks (JavaScript/Python) are not supported",
    "derivedMetrics": "derived metrics are not supported",
    "redteam": "red-team configs are not supported",
}
_TEST_KEYS = {"description", "vars", "provider", "providers", "prompts", "providerOutput",
              "assert", "assertScoringFunction", "options", "threshold", "metadata"}
_TEST_UNSUPPORTED = {
    "provider": "a per-test provider override is not supported; use the test's "
                "'providers' filter to pick providers instead",
    "providerOutput": "providerOutput (grading a given output without calling the model) "
                      "is not supported",
    "assertScoringFunction": "custom scoring functions (JavaScript/Python) are not supported",
}
_OPTION_UNSUPPORTED = {
    "transformVars": "variable transforms (JavaScript) are not supported",
    "storeOutputAs": "storeOutputAs (chaining tests) is not supported",
}
# test ``options`` that are promptfoo settings; every other key is a provider parameter
# for that test (promptfoo merges them into the provider config).
_OPTION_SETTINGS = {"prefix", "suffix", "provider", "rubricPrompt", "rubric_prompt",
                    "factuality", "disableVarExpansion", "disableConversationVar",
                    "disableDefaultAsserts", "runSerially", "transform", "postprocess",
                    *_OPTION_UNSUPPORTED}
_PROVIDER_OPTION_KEYS = {"label", "config", "prompts", "transform", "delay", "env",
                         "inputs"}
_PROVIDER_UNSUPPORTED = {"transform": "provider output transforms (JavaScript) are not "
                                      "supported"}
_CUSTOM_PROVIDER = re.compile(r"^(https?://|file://|exec:|python:|golang:|ruby:|js:|"
                              r"webhook:|websocket:|sequence|browser|mcp)")


# ------------------------------------------------------------------------- the plan
class PromptSpec(BaseModel):
    """One promptfoo prompt: ``raw`` and ``label`` as promptfoo reports them."""

    raw: str
    label: str
    content: str | list[dict[str, Any]]
    id: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class ProviderSpec(BaseModel):
    id: str
    label: str | None = None
    model: str
    params: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    prompts: list[str] | None = None  # promptfoo's provider-level prompt filter

    @property
    def key(self) -> str:
        """How promptfoo names the provider in its prompt columns: label, else id."""
        return self.label or self.id


class EvalPlan(BaseModel):
    """Everything needed to run a promptfoo config: targets (prompt × provider, in
    promptfoo's ``promptIdx`` order) and cases (tests after defaultTest and var expansion,
    in ``testIdx`` order)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    config_path: Path
    description: str | None = None
    raw_config: dict[str, Any] = Field(default_factory=dict)
    prompts: list[PromptSpec]
    providers: list[ProviderSpec]
    targets: list[Target]
    target_pairs: list[tuple[int, int]]  # per target: (prompt index, provider index)
    cases: list[TestCaseSnapshot]
    evaluate_options: dict[str, Any] = Field(default_factory=dict)
    output_paths: list[Path] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.config_path.parent

    def prompt_of(self, target_index: int) -> PromptSpec:
        return self.prompts[self.target_pairs[target_index][0]]

    def provider_of(self, target_index: int) -> ProviderSpec:
        return self.providers[self.target_pairs[target_index][1]]

    def runs(self, case: TestCaseSnapshot, target_index: int) -> bool:
        """Whether the case runs on the target (the test's ``providers`` / ``prompts``
        filters)."""
        info = case.metadata.get("promptfoo", {}) if isinstance(case.metadata, dict) else {}
        return is_provider_allowed(self.provider_of(target_index), info.get("providers")) and \
            is_prompt_allowed(self.prompt_of(target_index).label, info.get("prompts"))

    def pairs(self) -> list[tuple[TestCaseSnapshot, int]]:
        """(case, target index) for every evaluation to make, in promptfoo's order."""
        return [(case, t) for case in self.cases for t in range(len(self.targets))
                if self.runs(case, t)]


def is_prompt_allowed(label: str, allowed: list[str] | None) -> bool:
    if allowed is None:
        return True
    return label in allowed or any(label.startswith(f"{a}:") for a in allowed)


def is_provider_allowed(provider: ProviderSpec, allowed: list[str] | None) -> bool:
    if allowed is None:
        return True
    for a in allowed:
        if a in (provider.label, provider.id):
            return True
        if a.endswith("*") and (provider.id.startswith(a[:-1])
                                or (provider.label or "").startswith(a[:-1])):
            return True
        if ":" not in a and provider.id.startswith(f"{a}:"):
            return True
    return False


def target_label(prompt_label: str, provider_label: str) -> str:
    short = " ".join(prompt_label.split())
    if len(short) > 60:
        short = short[:59] + "…"
    return f"{short} · {provider_label}"


# ------------------------------------------------------------------------- helpers
def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _strip_file(ref: str) -> str:
    return ref[len("file://"):] if ref.startswith("file://") else ref


def _json_compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _as_messages(value: Any) -> list[dict[str, Any]] | None:
    """``value`` as chat messages if it is a non-empty list of {role, content: text}."""
    if (isinstance(value, list) and value
            and all(isinstance(m, dict) and isinstance(m.get("role"), str)
                    and isinstance(m.get("content"), str) for m in value)):
        return [dict(m) for m in value]
    return None


def _maybe_file_path(text: str) -> bool:
    """promptfoo's test for "this prompt string names a file"."""
    if "\n" in text:
        return False
    if text.startswith("file://"):
        return True
    tokens = text.split(":")
    if any(t.endswith(ext) for t in tokens[-2:] for ext in _KNOWN_FILE_EXTENSIONS):
        return True
    return (len(text) >= 4 and (text[-3] == "." or text[-4] == ".")) or any(
        c in text for c in "*/\\")


class _Yaml12Loader(yaml.SafeLoader):
    """YAML as promptfoo (js-yaml, YAML 1.2) reads it: ``yes`` / ``no`` / ``on`` / ``off``
    stay strings, ``10:30`` is not a base-60 number, ``0755`` is 755, ``1e3`` is a number,
    and dates stay strings."""


_REPLACED_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                  "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))


def _yaml12_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0x"):
        return int(text[2:], 16)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 10)


def _yaml12_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _yaml12_bool(loader: yaml.SafeLoader, node: yaml.Node) -> bool:
    return loader.construct_scalar(node).lower() == "true"


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _yaml12_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _yaml12_float)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _yaml12_bool)


def load_yaml(text: str) -> Any:
    """Parse YAML with YAML 1.2 scalars, as promptfoo does."""
    return yaml.load(text, Loader=_Yaml12Loader)


def read_structured(path: Path, *, shown: str | None = None) -> Any:
    """Parse a YAML or JSON file; errors name the file and the line."""
    shown = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", file=shown) from exc
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON: {exc.msg}", file=shown,
                              location=f"line {exc.lineno}, column {exc.colno}") from exc
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=shown, location=where) from exc


def find_config(path: Path) -> Path:
    """The config file itself, or the promptfoo config inside a directory."""
    path = Path(path)
    if path.is_dir():
        for name in CONFIG_NAMES:
            if (path / name).is_file():
                return path / name
        raise ConfigError(f"no {' / '.join(CONFIG_NAMES)} in this directory", file=path)
    return path


# ------------------------------------------------------------------------- loader
class _Loader:
    def __init__(self, config_path: Path) -> None:
        self.path = config_path
        self.base = config_path.parent
        self.shown = str(config_path)
        self.warnings: list[str] = []

    def error(self, message: str, location: str | None = None, *,
              file: Path | str | None = None) -> ConfigError:
        return ConfigError(message, file=file or self.shown, location=location)

    def resolve(self, ref: str, base: Path | None = None) -> Path:
        p = Path(os.path.expanduser(_strip_file(ref)))
        return p if p.is_absolute() else (base or self.base) / p

    def matches(self, ref: str, where: str, *, base: Path | None = None,
                file: str | None = None) -> list[Path]:
        """The files a path or glob names (sorted); an error when there are none."""
        target = self.resolve(ref, base)
        if _GLOB_CHARS.search(_strip_file(ref)):
            found = sorted(Path(p) for p in glob.glob(str(target), recursive=True)
                           if Path(p).is_file())
            if not found:
                raise self.error(f"no files match {ref!r}", where, file=file)
            return found
        if not target.is_file():
            raise self.error(f"file not found: {ref!r} (looked for {target})", where,
                             file=file)
        return [target]

    # ---------------------------------------------------------------- whole config
    def load(self) -> EvalPlan:
        if self.path.suffix.lower() in _CODE_EXTENSIONS:
            raise self.error("JavaScript/TypeScript/Python configs are not supported; "
                             "use promptfooconfig.yaml or .json")
        raw = read_structured(self.path)
        if raw is None:
            raise self.error("the config is empty")
        if not isinstance(raw, dict):
            raise self.error(f"the config must be a mapping, got {type(raw).__name__}")
        for key in raw:
            if key in _TOP_UNSUPPORTED:
                raise self.error(_TOP_UNSUPPORTED[key], key)
            if key in _TOP_IGNORED:
                why = _TOP_IGNORED[key]
                if why:
                    self.warnings.append(f"{key}: {why}")
            elif key not in _TOP_KEYS:
                self.warnings.append(f"{key}: unknown config key, ignored")
        description = raw.get("description")
        if description is not None and not isinstance(description, str):
            raise self.error("must be a string", "description")

        prompts = self.load_prompts(raw.get("prompts"))
        providers = self.load_providers(raw)
        targets, pairs = self.build_targets(prompts, providers)
        cases = self.load_cases(raw)
        plan = EvalPlan(
            config_path=self.path, description=description, raw_config=raw,
            prompts=prompts, providers=providers, targets=targets, target_pairs=pairs,
            cases=cases, evaluate_options=self.evaluate_options(raw),
            output_paths=self.output_paths(raw), warnings=self.warnings,
        )
        for case in cases:
            if not any(plan.runs(case, t) for t in range(len(targets))):
                plan.warnings.append(
                    f"{case.metadata['promptfoo']['source']}: its providers/prompts filter "
                    "matches no target, so it does not run")
        return plan

    def evaluate_options(self, raw: dict) -> dict[str, Any]:
        opts = raw.get("evaluateOptions") or {}
        if not isinstance(opts, dict):
            raise self.error("must be a mapping", "evaluateOptions")
        out: dict[str, Any] = {}
        for key in ("maxConcurrency", "repeat"):
            if key in opts:
                value = opts[key]
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise self.error(f"must be a whole number ≥ 1, got {value!r}",
                                     f"evaluateOptions.{key}")
                out[key] = value
        if "cache" in opts:
            out["cache"] = bool(opts["cache"])
        return out

    def output_paths(self, raw: dict) -> list[Path]:
        value = raw.get("outputPath")
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in items):
            raise self.error("must be a path or a list of paths", "outputPath")
        return [self.resolve(v) for v in items]

    # ---------------------------------------------------------------- prompts
    def load_prompts(self, raw: Any) -> list[PromptSpec]:
        if raw is None:
            self.warnings.append("prompts: none given, using '{{prompt}}'")
            raw = ["{{prompt}}"]
        items: list[tuple[dict, str]]
        if isinstance(raw, str):
            items = [({"raw": raw}, "prompts")]
        elif isinstance(raw, list):
            if not raw:
                raise self.error("must not be empty", "prompts")
            items = []
            for i, item in enumerate(raw):
                where = f"prompts[{i}]"
                if isinstance(item, str):
                    items.append(({"raw": item}, where))
                elif isinstance(item, dict):
                    if not isinstance(item.get("raw", item.get("id")), str):
                        raise self.error("a prompt object needs 'raw' (the text or a file://"
                                         " path) or 'id'", where)
                    items.append(({**item, "raw": item.get("raw") or item["id"]}, where))
                else:
                    raise self.error(f"must be a string or an object, got "
                                     f"{type(item).__name__}", where)
        elif isinstance(raw, dict):  # legacy {path: label}
            items = [({"raw": k, "label": v}, f"prompts.{k}") for k, v in raw.items()]
        else:
            raise self.error(f"must be a string, a list or a mapping, got {type(raw).__name__}",
                             "prompts")
        out: list[PromptSpec] = []
        for spec, where in items:
            config = spec.get("config") or {}
            if not isinstance(config, dict):
                raise self.error("must be a mapping", f"{where}.config")
            label = spec.get("label")
            if label is not None and not isinstance(label, str):
                raise self.error("must be a string", f"{where}.label")
            out.extend(self.prompts_from(spec["raw"], label, spec.get("id"), config, where))
        labels = [p.label for p in out]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            self.warnings.append(f"prompts: several prompts share the label {dupes[0]!r}; "
                                 "give them distinct labels")
        return out

    def prompts_from(self, raw: str, label: str | None, pid: str | None, config: dict,
                     where: str) -> list[PromptSpec]:
        explicit = raw.startswith("file://")
        if raw.startswith("exec:") or (
                (explicit or _maybe_file_path(raw))
                and re.search(r"\.(js|cjs|mjs|ts|py|sh|bash|rb|pl|exe|bat|cmd|ps1|go)"
                              r"(:[\w.]+)?$", raw)):
            raise self.error(f"prompt functions and executables ({raw!r}) are not supported; "
                             "use a text, Markdown, JSON or YAML prompt file", where)
        if not explicit and not _maybe_file_path(raw):
            return [self.inline_prompt(raw, label, pid, config, where)]
        ref = _strip_file(raw)
        target = self.resolve(ref)
        if _GLOB_CHARS.search(ref):
            found = sorted(Path(p) for p in glob.glob(str(target), recursive=True)
                           if Path(p).is_file())
            if not found:
                if explicit:
                    raise self.error(f"no files match {raw!r}", where)
                # promptfoo too: a glob that matches nothing is the prompt text itself
                return [self.inline_prompt(raw, label, pid, config, where)]
            out = []
            for path in found:
                rel = _rel(path, self.base)
                out.extend(self.prompts_from_file(
                    path, rel, f"{label}: {rel}" if label else None,
                    f"{pid}:{rel}" if pid else None, config, where))
            return out
        if not target.is_file():
            if explicit:
                raise self.error(f"prompt file not found: {raw!r} (looked for {target})", where)
            raise self.error(
                f"{raw!r} looks like a file path to promptfoo (it has no newline and contains "
                "'/', '\\', '*' or a file extension) but there is no such file; promptfoo "
                "refuses it too. For an inline prompt, use a block scalar (|) with more than "
                "one line", where)
        return self.prompts_from_file(target, Path(ref).as_posix(), label, pid, config, where)

    def inline_prompt(self, raw: str, label: str | None, pid: str | None, config: dict,
                      where: str) -> PromptSpec:
        content: str | list[dict] = raw
        stripped = raw.strip()
        if stripped.startswith("["):
            try:
                content = _as_messages(json.loads(stripped)) or raw
            except ValueError:
                content = raw
        return self.make_prompt(raw, label if label is not None else raw, content, pid, config,
                                where)

    def make_prompt(self, raw: str, label: str, content: str | list[dict], pid: str | None,
                    config: dict, where: str, file: str | None = None) -> PromptSpec:
        # The template itself is not checked here: as in promptfoo, a template that cannot
        # render makes its rows errors when they run.
        if isinstance(content, list):
            try:
                templating.validate_messages(content)
            except ValueError as exc:
                raise self.error(f"invalid chat prompt: {exc}", where, file=file) from exc
        return PromptSpec(raw=raw, label=label, content=content, id=pid, config=dict(config))

    def prompts_from_file(self, path: Path, shown: str, label: str | None, pid: str | None,
                          config: dict, where: str) -> list[PromptSpec]:
        suffix = path.suffix.lower()
        file_where = f"{where} ({shown})"
        if suffix in _CODE_EXTENSIONS:
            raise self.error(f"prompt functions and executables ({suffix}) are not supported; "
                             "use a text, Markdown, JSON or YAML prompt file", file_where)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(f"cannot read prompt file: {exc}", file_where) from exc

        def make(raw: str, lab: str, content: str | list[dict]) -> PromptSpec:
            return self.make_prompt(raw, lab, content, pid, config, file_where)

        if suffix == ".txt" or suffix == "":
            separator = os.environ.get("PROMPTFOO_PROMPT_SEPARATOR") or "---"
            chunks, buf = [], []
            for line in re.split(r"\r?\n", text):
                if line.strip() == separator:
                    chunks.append("\n".join(buf).strip())
                    buf = []
                else:
                    buf.append(line)
            chunks.append("\n".join(buf).strip())
            out = [make(c, f"{label}: {shown}: {c}" if label else f"{shown}: {c}", c)
                   for c in chunks if c]
        elif suffix in (".md", ".j2"):
            out = [make(text, label or f"{shown}: {text[:50]}...", text)]
        elif suffix in (".json", ".yaml", ".yml"):
            parsed = read_structured(path, shown=shown)
            messages = _as_messages(parsed)
            if isinstance(parsed, str):
                raw, content = parsed, parsed
            else:
                raw = _json_compact(parsed)
                content = messages or raw
            if suffix == ".json":
                lab = label or f"{shown}: {raw}"
            else:
                lab = label or f"{shown}: {raw[:80]}"
            out = [make(raw, lab, content)]
        elif suffix == ".jsonl":
            out = []
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    parsed = json.loads(line)
                except ValueError as exc:
                    raise self.error(f"invalid JSON: {exc}", f"line {n}", file=shown) from exc
                raw = _json_compact(parsed)
                lab = f"{label}: {shown}: {raw}" if label else f"{shown}: {raw}"
                out.append(make(raw, lab, _as_messages(parsed) or raw))
        elif suffix == ".csv":
            from .csv_tests import read_csv_rows

            out = []
            for n, row in enumerate(read_csv_rows(text, file=shown), start=1):
                value = row.get("prompt")
                if value is None:
                    value = next(iter(row.values()), None)
                if not value:
                    raise self.error("no prompt text (use a 'prompt' column)", f"row {n}",
                                     file=shown)
                lab = row.get("label") or (f"{label}: {shown}: {value}" if label
                                           else f"{shown}: {value}")
                out.append(make(value, lab, value))
        else:
            raise self.error(f"unsupported prompt file type {suffix!r}", file_where)
        if not out:
            raise self.error("there are no prompts in this file", file_where)
        return out

    # ---------------------------------------------------------------- providers
    def load_providers(self, raw: dict) -> list[ProviderSpec]:
        if "providers" in raw and "targets" in raw:
            raise self.error("give either 'providers' or 'targets', not both", "targets")
        key = "targets" if "targets" in raw else "providers"
        value = raw.get(key)
        if value is None:
            raise self.error("at least one provider is required", "providers")
        items = [value] if isinstance(value, str | dict) else value
        if not isinstance(items, list) or not items:
            raise self.error("must be a provider id or a non-empty list", key)
        out: list[ProviderSpec] = []
        for i, item in enumerate(items):
            where = f"{key}[{i}]" if isinstance(value, list) else key
            if isinstance(item, str) and item.startswith("file://") and \
                    item.lower().endswith((".yaml", ".yml", ".json")):
                loaded = read_structured(self.matches(item, where)[0], shown=_strip_file(item))
                for j, sub in enumerate(loaded if isinstance(loaded, list) else [loaded]):
                    out.append(self.provider(sub, f"{where}[{j}]",
                                             file=_strip_file(item)))
            else:
                out.append(self.provider(item, where))
        return out

    def provider(self, item: Any, where: str, file: str | None = None) -> ProviderSpec:
        if isinstance(item, str):
            options: dict[str, Any] = {"id": item}
        elif isinstance(item, dict) and "id" in item:
            options = item
        elif isinstance(item, dict) and len(item) == 1 and \
                next(iter(item)) not in _PROVIDER_OPTION_KEYS:  # {provider_id: options}
            (pid, opts), = item.items()
            if opts is not None and not isinstance(opts, dict):
                raise self.error("provider options must be a mapping", f"{where}.{pid}",
                                 file=file)
            options = {"id": pid, **(opts or {})}
        else:
            raise self.error("must be a provider id or an object with 'id'", where, file=file)
        pid = options.get("id")
        if not isinstance(pid, str) or not pid.strip():
            raise self.error("provider 'id' must be a non-empty string", f"{where}.id",
                             file=file)
        for key, why in _PROVIDER_UNSUPPORTED.items():
            if options.get(key):
                raise self.error(why, f"{where}.{key}", file=file)
        if _CUSTOM_PROVIDER.match(pid):
            raise self.error(f"provider {pid!r}: custom providers (HTTP endpoints, scripts, "
                             "browsers) are not supported; use a model provider id such as "
                             "openai:chat:gpt-4o-mini or echo", f"{where}.id", file=file)
        try:
            model = to_litellm_model(pid)
        except UnknownProvider as exc:
            raise self.error(str(exc), f"{where}.id", file=file) from exc
        config = options.get("config") or {}
        if not isinstance(config, dict):
            raise self.error("must be a mapping", f"{where}.config", file=file)
        params, ignored = to_litellm_params(pid, config)
        if ignored:
            self.warnings.append(f"{where} ({pid}): config keys without a LiteLLM equivalent "
                                 f"ignored: {', '.join(ignored)}")
        if options.get("env"):
            self.warnings.append(f"{where}.env: provider env overrides are not applied")
        label = options.get("label")
        if label is not None and not isinstance(label, str):
            raise self.error("must be a string", f"{where}.label", file=file)
        prompts = options.get("prompts")
        if isinstance(prompts, str):
            prompts = [prompts]
        if prompts is not None and not (isinstance(prompts, list)
                                        and all(isinstance(p, str) for p in prompts)):
            raise self.error("must be a list of prompt labels", f"{where}.prompts", file=file)
        return ProviderSpec(id=pid, label=label, model=model, params=params, config=config,
                            prompts=prompts)

    def build_targets(self, prompts: list[PromptSpec], providers: list[ProviderSpec]
                      ) -> tuple[list[Target], list[tuple[int, int]]]:
        targets: list[Target] = []
        pairs: list[tuple[int, int]] = []
        for v, provider in enumerate(providers):
            chosen = [p for p, prompt in enumerate(prompts)
                      if is_prompt_allowed(prompt.label, provider.prompts)]
            if not chosen:
                raise self.error(f"provider {provider.key!r}: its 'prompts' filter "
                                 f"{provider.prompts} matches no prompt label",
                                 f"providers[{v}].prompts")
            for p in chosen:
                prompt = prompts[p]
                params = dict(provider.params)
                if prompt.config:
                    extra, ignored = to_litellm_params(provider.id, prompt.config)
                    params.update(extra)
                    if ignored:
                        self.warnings.append(f"prompt {prompt.label[:40]!r}: config keys "
                                             f"ignored: {', '.join(ignored)}")
                targets.append(Target(
                    target_id=f"t{len(targets)}",
                    label=target_label(prompt.label, provider.key),
                    prompt_name=prompt.label, content=copy.deepcopy(prompt.content),
                    model=provider.model, params=params,
                ))
                pairs.append((p, v))
        return targets, pairs

    # ---------------------------------------------------------------- tests
    def load_cases(self, raw: dict) -> list[TestCaseSnapshot]:
        default, default_loc = self.default_test(raw.get("defaultTest"))
        tests = self.read_tests(raw.get("tests"))
        for test, file, loc in tests:
            if isinstance(test, dict) and not any(
                    test.get(k) for k in ("assert", "vars", "options", "metadata", "provider",
                                          "providerOutput")) and not (
                    isinstance(test.get("threshold"), int | float)
                    and not isinstance(test.get("threshold"), bool)):
                raise self.error("a test must contain one of: assert, vars, options, "
                                 "metadata, provider, providerOutput, threshold (promptfoo "
                                 "refuses it too)", loc, file=file)
        if not tests:
            tests = [({}, self.shown, "tests (none given: one empty test)")]
        cases: list[TestCaseSnapshot] = []
        for index, (test, file, loc) in enumerate(tests):
            cases.extend(self.expand_test(index, test, file, loc, default, default_loc,
                                          first_id=len(cases) + 1))
        return cases

    def default_test(self, raw: Any) -> tuple[dict, tuple[str, str]]:
        where = (self.shown, "defaultTest")
        if raw is None:
            return {}, where
        if isinstance(raw, str):
            if not raw.startswith("file://"):
                raise self.error("a defaultTest string must be a file:// path", "defaultTest")
            path = self.matches(raw, "defaultTest")[0]
            loaded = read_structured(path, shown=_strip_file(raw))
            where = (_strip_file(raw), "defaultTest")
            raw = loaded if loaded is not None else {}
        if not isinstance(raw, dict):
            raise self.error(f"must be a mapping, got {type(raw).__name__}", where[1],
                             file=where[0])
        raw = dict(raw)
        self.check_test_keys(raw, *where)
        raw["vars"] = self.load_vars_files(raw.get("vars"), where[0], f"{where[1]}.vars")
        raw["assert"] = self.prepare_asserts(raw.get("assert"), where[0], where[1])
        return raw, where

    def read_tests(self, raw: Any) -> list[tuple[dict, str, str]]:
        """(test, file, location) for every test, in order."""
        if raw is None:
            return []
        if isinstance(raw, str):
            return self.tests_from_file(raw, "tests")
        if isinstance(raw, dict) and isinstance(raw.get("path"), str):
            if raw.get("config"):
                self.warnings.append("tests.config: generator config is ignored")
            return self.tests_from_file(raw["path"], "tests.path")
        if not isinstance(raw, list):
            raise self.error(f"must be a list of tests or a file path, got {type(raw).__name__}",
                             "tests")
        out: list[tuple[dict, str, str]] = []
        for i, item in enumerate(raw):
            where = f"tests[{i}]"
            if isinstance(item, str):
                out.extend(self.tests_from_file(item, where))
            elif isinstance(item, dict) and isinstance(item.get("path"), str) and \
                    "vars" not in item and "assert" not in item:
                out.extend(self.tests_from_file(item["path"], f"{where}.path"))
            elif isinstance(item, dict):
                out.append((item, self.shown, where))
            else:
                raise self.error(f"must be a test object or a file path, got "
                                 f"{type(item).__name__}", where)
        return out

    def tests_from_file(self, ref: str, where: str) -> list[tuple[dict, str, str]]:
        if ref.startswith(("huggingface://", "langfuse://", "az://", "https://", "http://")):
            raise self.error(f"remote test sources are not supported ({ref!r}); download the "
                             "file and point to it", where)
        path_part = _strip_file(ref)
        if re.search(r"\.(js|cjs|mjs|ts|py)(:[\w.]+)?$", path_part) or \
                re.search(r"\.(xlsx|xls)(#.*)?$", path_part):
            raise self.error(f"test generators and spreadsheets ({ref!r}) are not supported; "
                             "use CSV, YAML, JSON or JSONL", where)
        out: list[tuple[dict, str, str]] = []
        for path in self.matches(ref, where):
            shown = _rel(path, self.base)
            suffix = path.suffix.lower()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise self.error(f"cannot read tests file: {exc}", file=shown) from exc
            if suffix == ".csv":
                out.extend((t, shown, loc) for t, loc in csv_to_tests(text, file=shown))
                continue
            if suffix == ".jsonl":
                items = []
                for n, line in enumerate(text.splitlines(), start=1):
                    if not line.strip():
                        continue
                    try:
                        items.append((json.loads(line), f"line {n}"))
                    except ValueError as exc:
                        raise self.error(f"invalid JSON: {exc}", f"line {n}",
                                         file=shown) from exc
            elif suffix in (".json", ".yaml", ".yml"):
                loaded = read_structured(path, shown=shown)
                if loaded is None:
                    loaded = []
                loaded = loaded if isinstance(loaded, list) else [loaded]
                items = [(item, f"[{n}]") for n, item in enumerate(loaded)]
            else:
                raise self.error(f"unsupported tests file type {suffix!r} (use .csv, .yaml, "
                                 ".json or .jsonl)", where)
            for n, (item, loc) in enumerate(items, start=1):
                if isinstance(item, dict) and suffix in (".json", ".jsonl"):
                    item = {**item, "description": item.get("description") or f"Row #{n}"}
                out.append((item, shown, loc))
        return out

    def check_test_keys(self, test: dict, file: str, where: str) -> None:
        for key, why in _TEST_UNSUPPORTED.items():
            if test.get(key) is not None:
                raise self.error(why, f"{where}.{key}", file=file)
        unknown = sorted(set(test) - _TEST_KEYS)
        if unknown:
            self.warnings.append(f"{file}: {where}: unknown test keys ignored: "
                                 f"{', '.join(unknown)}")
        variables = test.get("vars")
        if isinstance(variables, dict) and "assert" in variables:
            self.warnings.append(f"{file}: {where}.vars has an 'assert' key: 'assert' belongs "
                                 "to the test, not to its vars (check the indentation)")
        for key in ("providers", "prompts"):
            value = test.get(key)
            if value is not None and not (isinstance(value, list)
                                          and all(isinstance(v, str) for v in value)):
                raise self.error("must be a list of strings", f"{where}.{key}", file=file)
        threshold = test.get("threshold")
        if threshold is not None and (not isinstance(threshold, int | float)
                                      or isinstance(threshold, bool) or math.isnan(threshold)):
            raise self.error(f"must be a number, got {threshold!r}", f"{where}.threshold",
                             file=file)
        options = test.get("options")
        if options is None:
            return
        if not isinstance(options, dict):
            raise self.error("must be a mapping", f"{where}.options", file=file)
        for key, why in _OPTION_UNSUPPORTED.items():
            if options.get(key):
                raise self.error(why, f"{where}.options.{key}", file=file)
        if "provider" in options:
            self.check_grader(options["provider"], file, f"{where}.options.provider")

    def check_grader(self, provider: Any, file: str, where: str) -> None:
        pid = provider.get("id") if isinstance(provider, dict) else provider
        if isinstance(provider, dict) and pid is None:
            self.warnings.append(f"{file}: {where}: per-kind grading providers are not "
                                 "supported; the default judge model is used")
            return
        if not isinstance(pid, str):
            raise self.error("must be a provider id or an object with 'id'", where, file=file)
        try:
            to_litellm_model(pid)
        except UnknownProvider as exc:
            raise self.error(str(exc), where, file=file) from exc

    def load_vars_files(self, variables: Any, file: str, where: str) -> dict:
        """A test's ``vars``: a mapping, or file(s) whose mappings are merged."""
        if variables is None:
            return {}
        if isinstance(variables, dict):
            return variables
        refs = [variables] if isinstance(variables, str) else variables
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise self.error("must be a mapping of variables or file path(s)", where, file=file)
        merged: dict = {}
        for ref in refs:
            for path in self.matches(ref, where, file=file):
                loaded = read_structured(path, shown=_rel(path, self.base))
                if not isinstance(loaded, dict):
                    raise self.error("a vars file must hold a mapping", file=_rel(path, self.base))
                merged.update(loaded)
        return merged

    def prepare_asserts(self, raw: Any, file: str, where: str) -> list[dict]:
        """Validated assertions with ``file://`` values loaded."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.error(f"must be a list, got {type(raw).__name__}", f"{where}.assert",
                             file=file)
        out: list[dict] = []
        for j, item in enumerate(raw):
            at = f"{where}.assert[{j}]"
            if not isinstance(item, dict):
                raise self.error(f"must be an object, got {type(item).__name__}", at, file=file)
            a_type = item.get("type")
            if not isinstance(a_type, str):
                raise self.error("missing 'type'", at, file=file)
            if a_type not in SUPPORTED_TYPES:
                base = a_type[4:] if a_type.startswith("not-") else a_type
                if unsupported_reason(a_type):
                    why = unsupported_reason(a_type)
                elif base in PROMPTFOO_ASSERTION_TYPES or base in ("assert-set", "select-best",
                                                                   "max-score", "human"):
                    why = f"promptfoo assertion type {a_type!r} is not supported by harness"
                else:
                    why = f"unknown assertion type {a_type!r}"
                supported = sorted(t for t in SUPPORTED_TYPES if not t.startswith("not-"))
                raise self.error(f"{why} (supported: {', '.join(supported)})", at, file=file)
            item = dict(item)
            base = a_type[4:] if a_type.startswith("not-") else a_type
            if a_type == "assert-set" and isinstance(item.get("assert"), list):
                item["assert"] = self.prepare_asserts(item["assert"], file, at)
            for key in ("transform", "contextTransform"):
                if isinstance(item.get(key), str) and item[key].startswith("file://"):
                    item[key] = self.script_ref(item[key], file, f"{at}.{key}")
            if base in SCRIPT_TYPES and isinstance(item.get("value"), str) and \
                    item["value"].startswith("file://"):
                item["value"] = self.script_ref(item["value"], file, f"{at}.value")
            elif "value" in item:  # an explicit null stays: equals null ≠ equals (undefined)
                item["value"] = self.load_value(item["value"], file, f"{at}.value")
            if "provider" in item and item["provider"] is not None:
                self.check_grader(item["provider"], file, f"{at}.provider")
            out.append(item)
        # Values are not checked here: as in promptfoo, an assertion whose value cannot be
        # used makes its row an error when it runs, and the other rows still run.
        return out

    def script_ref(self, value: str, file: str, where: str) -> str:
        """A python/javascript assertion's ``file://path[:function]`` with the path made
        absolute (relative to the config's folder), so it runs from any working dir."""
        ref = _strip_file(value)
        m = re.match(r"^(.*\.(?:py|js|cjs|mjs))(?::([\w.]+))?$", ref)
        if not m:
            raise self.error(f"a script assertion needs a .py or .js file, got {value!r}",
                             where, file=file)
        path = (self.base / m.group(1)).resolve()
        if not path.is_file():
            raise self.error(f"script not found: {m.group(1)!r}", where, file=file)
        return f"file://{path}" + (f":{m.group(2)}" if m.group(2) else "")

    def load_value(self, value: Any, file: str, where: str) -> Any:
        if isinstance(value, list):
            return [self.load_value(v, file, where) for v in value]
        if not isinstance(value, str) or not value.startswith("file://"):
            return value
        ref = _strip_file(value)
        if re.search(r"\.(js|cjs|mjs|ts|py)(:[\w.]+)?$", ref):
            raise self.error(f"code assertions ({value!r}) are not supported", where, file=file)
        path = self.matches(value, where, file=file)[0]
        if path.suffix.lower() in (".json", ".yaml", ".yml"):
            return read_structured(path, shown=_rel(path, self.base))
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(f"cannot read {value!r}: {exc}", where, file=file) from exc

    def var_file_values(self, key: str, ref: str, file: str, where: str) -> list[Any]:
        out = []
        for path in self.matches(ref, f"{where}.{key}", file=file):
            suffix = path.suffix.lower()
            if suffix in _CODE_EXTENSIONS:
                raise self.error(f"variables computed by scripts ({ref!r}) are not supported",
                                 f"{where}.{key}", file=file)
            data = path.read_bytes()
            if suffix in (".yaml", ".yml"):
                out.append(_json_compact(read_structured(path, shown=_rel(path, self.base))))
                continue
            try:
                out.append(data.decode("utf-8"))
            except UnicodeDecodeError:  # images and other binaries: base64, like promptfoo
                out.append(base64.b64encode(data).decode("ascii"))
        return out

    def expand_test(self, index: int, test: Any, file: str, loc: str, default: dict,
                    default_loc: tuple[str, str], *, first_id: int) -> list[TestCaseSnapshot]:
        if not isinstance(test, dict):
            raise self.error(f"a test must be an object, got {type(test).__name__}", loc,
                             file=file)
        test = dict(test)
        self.check_test_keys(test, file, loc)
        test["vars"] = self.load_vars_files(test.get("vars"), file, f"{loc}.vars")
        test["assert"] = self.prepare_asserts(test.get("assert"), file, loc)
        options = test.get("options") or {}
        base = default
        if options.get("disableDefaultAsserts"):
            base = {**default, "assert": []}
        try:
            merged = merge_default_test(base, test)
        except ValueError as exc:
            raise self.error(str(exc), loc, file=file) from exc
        if merged.get("provider") is not None:  # from defaultTest
            raise self.error(_TEST_UNSUPPORTED["provider"], f"{default_loc[1]}.provider",
                             file=default_loc[0])
        options = merged.get("options") or {}
        variables = merged.get("vars") or {}
        if options.get("disableVarExpansion"):
            combos = [{k: (self.var_file_values(k, v, file, f"{loc}.vars")[0]
                           if isinstance(v, str) and v.startswith("file://") else v)
                       for k, v in variables.items()}]
        else:
            combos = [{}]
            for key, value in variables.items():
                if isinstance(value, str) and value.startswith("file://"):
                    values = self.var_file_values(key, value, file, f"{loc}.vars")
                elif isinstance(value, list) and value and isinstance(value[0], str):
                    values = value
                else:
                    values = [value]
                combos = [{**c, key: v} for c in combos for v in values]
        params, ignored = to_litellm_params(
            "", {k: v for k, v in options.items() if k not in _OPTION_SETTINGS})
        if ignored:
            self.warnings.append(f"{file}: {loc}.options: keys ignored: {', '.join(ignored)}")
        grading = {k: options[k] for k in ("provider", "rubricPrompt", "rubric_prompt",
                                           "factuality") if k in options}
        # the test's output transform (JavaScript or file://), run by harness eval
        transform = options.get("transform") or options.get("postprocess")
        if isinstance(transform, str) and transform:
            grading["transform"] = self.script_ref(transform, file, f"{loc}.options.transform") \
                if transform.startswith("file://") else transform
        elif transform:
            raise self.error("must be JavaScript code or a file:// path",
                             f"{loc}.options.transform", file=file)
        if isinstance(grading.get("provider"), dict) and "id" in grading["provider"]:
            grader = grading["provider"]
            grader_params, _ = to_litellm_params(grader["id"], grader.get("config"))
            grading["provider"] = {**grader, "config": grader_params}
        asserts = [self.grader_params(a) for a in merged.get("assert") or []]
        description = merged.get("description")
        cases = []
        for c, combo in enumerate(combos):
            atomic = {k: v for k, v in merged.items() if v is not None}
            atomic["vars"] = combo
            cases.append(TestCaseSnapshot(
                id=f"case-{first_id + c:04d}",
                input=combo,
                assert_=copy.deepcopy(asserts),
                threshold=merged.get("threshold"),
                metadata={
                    "description": description,
                    "options": grading,
                    "metadata": merged.get("metadata") or {},
                    "promptfoo": {
                        "test_index": index, "combo_index": c, "combo_count": len(combos),
                        "source": f"{file}: {loc}", "testCase": copy.deepcopy(atomic),
                        "providers": merged.get("providers"), "prompts": merged.get("prompts"),
                        "params": params, "prefix": options.get("prefix") or "",
                        "suffix": options.get("suffix") or "",
                    },
                },
            ))
        return cases

    @staticmethod
    def grader_params(assertion: dict) -> dict:
        """An assertion whose grading provider ``config`` is in LiteLLM's terms."""
        provider = assertion.get("provider")
        if isinstance(provider, dict) and isinstance(provider.get("id"), str):
            params, _ = to_litellm_params(provider["id"], provider.get("config"))
            return {**assertion, "provider": {**provider, "config": params}}
        return dict(assertion)


def load_config(path: Path | str) -> EvalPlan:
    """Read a promptfoo config (``.yaml`` / ``.yml`` / ``.json``, or a directory holding
    ``promptfooconfig.yaml``) into an :class:`EvalPlan`; a :class:`ConfigError` names the
    file and the field of anything wrong."""
    return _Loader(find_config(Path(path))).load()
