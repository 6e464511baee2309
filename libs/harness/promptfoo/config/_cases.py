"""A config's ``tests`` and ``defaultTest`` as cases: inline tests, ``file://`` CSV /
YAML / JSON / JSONL files, globs, or a list of these (CSV columns follow promptfoo's
``__expected`` conventions); ``defaultTest`` merged into every test; ``vars`` whose values
are lists (or ``file://`` globs) expand into the cartesian product, in ``testIdx`` order."""

from __future__ import annotations

import base64
import copy
import json
import math
import re
from pathlib import Path
from typing import Any

from harness.assertions import merge_default_test
from harness.evaluation.models import TestCaseSnapshot
from harness.evaluation.providers import to_litellm_params

from ..csv_tests import csv_to_tests
from ._asserts import check_grader, grader_params, prepare_asserts, script_ref
from ._context import CODE_EXTENSIONS, LoadContext, json_compact, strip_file
from .files import read_structured

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

Located = tuple[dict, str, str]  # (test, file, location)


def load_cases(ctx: LoadContext, raw: dict) -> list[TestCaseSnapshot]:
    default, default_loc = _default_test(ctx, raw.get("defaultTest"))
    tests = _read_tests(ctx, raw.get("tests"))
    for test, file, loc in tests:
        if isinstance(test, dict) and not any(
                test.get(k) for k in ("assert", "vars", "options", "metadata", "provider",
                                      "providerOutput")) and not (
                isinstance(test.get("threshold"), int | float)
                and not isinstance(test.get("threshold"), bool)):
            raise ctx.error("a test must contain one of: assert, vars, options, "
                            "metadata, provider, providerOutput, threshold (promptfoo "
                            "refuses it too)", loc, file=file)
    if not tests:
        tests = [({}, ctx.shown, "tests (none given: one empty test)")]
    cases: list[TestCaseSnapshot] = []
    for index, (test, file, loc) in enumerate(tests):
        cases.extend(_expand_test(ctx, index, test, file, loc, default, default_loc,
                                  first_id=len(cases) + 1))
    return cases


def _default_test(ctx: LoadContext, raw: Any) -> tuple[dict, tuple[str, str]]:
    where = (ctx.shown, "defaultTest")
    if raw is None:
        return {}, where
    if isinstance(raw, str):
        if not raw.startswith("file://"):
            raise ctx.error("a defaultTest string must be a file:// path", "defaultTest")
        path = ctx.matches(raw, "defaultTest")[0]
        loaded = read_structured(path, shown=strip_file(raw))
        where = (strip_file(raw), "defaultTest")
        raw = loaded if loaded is not None else {}
    if not isinstance(raw, dict):
        raise ctx.error(f"must be a mapping, got {type(raw).__name__}", where[1],
                        file=where[0])
    raw = dict(raw)
    _check_test_keys(ctx, raw, *where)
    raw["vars"] = _load_vars_files(ctx, raw.get("vars"), where[0], f"{where[1]}.vars")
    raw["assert"] = prepare_asserts(ctx, raw.get("assert"), where[0], where[1])
    return raw, where


def _read_tests(ctx: LoadContext, raw: Any) -> list[Located]:
    """(test, file, location) for every test, in order."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return _tests_from_file(ctx, raw, "tests")
    if isinstance(raw, dict) and isinstance(raw.get("path"), str):
        if raw.get("config"):
            ctx.warnings.append("tests.config: generator config is ignored")
        return _tests_from_file(ctx, raw["path"], "tests.path")
    if not isinstance(raw, list):
        raise ctx.error(f"must be a list of tests or a file path, got {type(raw).__name__}",
                        "tests")
    out: list[Located] = []
    for i, item in enumerate(raw):
        where = f"tests[{i}]"
        if isinstance(item, str):
            out.extend(_tests_from_file(ctx, item, where))
        elif isinstance(item, dict) and isinstance(item.get("path"), str) and \
                "vars" not in item and "assert" not in item:
            out.extend(_tests_from_file(ctx, item["path"], f"{where}.path"))
        elif isinstance(item, dict):
            out.append((item, ctx.shown, where))
        else:
            raise ctx.error(f"must be a test object or a file path, got "
                            f"{type(item).__name__}", where)
    return out


def _tests_from_file(ctx: LoadContext, ref: str, where: str) -> list[Located]:
    if ref.startswith(("huggingface://", "langfuse://", "az://", "https://", "http://")):
        raise ctx.error(f"remote test sources are not supported ({ref!r}); download the "
                        "file and point to it", where)
    path_part = strip_file(ref)
    if re.search(r"\.(js|cjs|mjs|ts|py)(:[\w.]+)?$", path_part) or \
            re.search(r"\.(xlsx|xls)(#.*)?$", path_part):
        raise ctx.error(f"test generators and spreadsheets ({ref!r}) are not supported; "
                        "use CSV, YAML, JSON or JSONL", where)
    out: list[Located] = []
    for path in ctx.matches(ref, where):
        shown = ctx.rel(path)
        suffix = path.suffix.lower()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ctx.error(f"cannot read tests file: {exc}", file=shown) from exc
        if suffix == ".csv":
            out.extend((t, shown, loc) for t, loc in csv_to_tests(text, file=shown))
            continue
        for n, (item, loc) in enumerate(_file_items(ctx, path, text, shown, where), start=1):
            if isinstance(item, dict) and suffix in (".json", ".jsonl"):
                item = {**item, "description": item.get("description") or f"Row #{n}"}
            out.append((item, shown, loc))
    return out


def _file_items(ctx: LoadContext, path: Path, text: str, shown: str, where: str
                ) -> list[tuple[Any, str]]:
    """(test, location) for every test in a JSONL, JSON or YAML tests file."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        items = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((json.loads(line), f"line {n}"))
            except ValueError as exc:
                raise ctx.error(f"invalid JSON: {exc}", f"line {n}", file=shown) from exc
        return items
    if suffix in (".json", ".yaml", ".yml"):
        loaded = read_structured(path, shown=shown)
        if loaded is None:
            loaded = []
        loaded = loaded if isinstance(loaded, list) else [loaded]
        return [(item, f"[{n}]") for n, item in enumerate(loaded)]
    raise ctx.error(f"unsupported tests file type {suffix!r} (use .csv, .yaml, .json or "
                    ".jsonl)", where)


def _check_test_keys(ctx: LoadContext, test: dict, file: str, where: str) -> None:
    for key, why in _TEST_UNSUPPORTED.items():
        if test.get(key) is not None:
            raise ctx.error(why, f"{where}.{key}", file=file)
    unknown = sorted(set(test) - _TEST_KEYS)
    if unknown:
        ctx.warnings.append(f"{file}: {where}: unknown test keys ignored: "
                            f"{', '.join(unknown)}")
    variables = test.get("vars")
    if isinstance(variables, dict) and "assert" in variables:
        ctx.warnings.append(f"{file}: {where}.vars has an 'assert' key: 'assert' belongs "
                            "to the test, not to its vars (check the indentation)")
    for key in ("providers", "prompts"):
        value = test.get(key)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value)):
            raise ctx.error("must be a list of strings", f"{where}.{key}", file=file)
    threshold = test.get("threshold")
    if threshold is not None and (not isinstance(threshold, int | float)
                                  or isinstance(threshold, bool) or math.isnan(threshold)):
        raise ctx.error(f"must be a number, got {threshold!r}", f"{where}.threshold",
                        file=file)
    _check_options(ctx, test.get("options"), file, where)


def _check_options(ctx: LoadContext, options: Any, file: str, where: str) -> None:
    if options is None:
        return
    if not isinstance(options, dict):
        raise ctx.error("must be a mapping", f"{where}.options", file=file)
    for key, why in _OPTION_UNSUPPORTED.items():
        if options.get(key):
            raise ctx.error(why, f"{where}.options.{key}", file=file)
    if "provider" in options:
        check_grader(ctx, options["provider"], file, f"{where}.options.provider")


def _load_vars_files(ctx: LoadContext, variables: Any, file: str, where: str) -> dict:
    """A test's ``vars``: a mapping, or file(s) whose mappings are merged."""
    if variables is None:
        return {}
    if isinstance(variables, dict):
        return variables
    refs = [variables] if isinstance(variables, str) else variables
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise ctx.error("must be a mapping of variables or file path(s)", where, file=file)
    merged: dict = {}
    for ref in refs:
        for path in ctx.matches(ref, where, file=file):
            loaded = read_structured(path, shown=ctx.rel(path))
            if not isinstance(loaded, dict):
                raise ctx.error("a vars file must hold a mapping", file=ctx.rel(path))
            merged.update(loaded)
    return merged


def _var_file_values(ctx: LoadContext, key: str, ref: str, file: str, where: str
                     ) -> list[Any]:
    out = []
    for path in ctx.matches(ref, f"{where}.{key}", file=file):
        suffix = path.suffix.lower()
        if suffix in CODE_EXTENSIONS:
            raise ctx.error(f"variables computed by scripts ({ref!r}) are not supported",
                            f"{where}.{key}", file=file)
        data = path.read_bytes()
        if suffix in (".yaml", ".yml"):
            out.append(json_compact(read_structured(path, shown=ctx.rel(path))))
            continue
        try:
            out.append(data.decode("utf-8"))
        except UnicodeDecodeError:  # images and other binaries: base64, like promptfoo
            out.append(base64.b64encode(data).decode("ascii"))
    return out


def _expand_test(ctx: LoadContext, index: int, test: Any, file: str, loc: str, default: dict,
                 default_loc: tuple[str, str], *, first_id: int) -> list[TestCaseSnapshot]:
    if not isinstance(test, dict):
        raise ctx.error(f"a test must be an object, got {type(test).__name__}", loc,
                        file=file)
    test = dict(test)
    _check_test_keys(ctx, test, file, loc)
    test["vars"] = _load_vars_files(ctx, test.get("vars"), file, f"{loc}.vars")
    test["assert"] = prepare_asserts(ctx, test.get("assert"), file, loc)
    base = default
    if (test.get("options") or {}).get("disableDefaultAsserts"):
        base = {**default, "assert": []}
    try:
        merged = merge_default_test(base, test)
    except ValueError as exc:
        raise ctx.error(str(exc), loc, file=file) from exc
    if merged.get("provider") is not None:  # from defaultTest
        raise ctx.error(_TEST_UNSUPPORTED["provider"], f"{default_loc[1]}.provider",
                        file=default_loc[0])
    options = merged.get("options") or {}
    combos = _var_combos(ctx, merged.get("vars") or {}, options, file, loc)
    params, ignored = to_litellm_params(
        "", {k: v for k, v in options.items() if k not in _OPTION_SETTINGS})
    if ignored:
        ctx.warnings.append(f"{file}: {loc}.options: keys ignored: {', '.join(ignored)}")
    grading = _grading_options(ctx, options, file, loc)
    asserts = [grader_params(a) for a in merged.get("assert") or []]
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
                "description": merged.get("description"),
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


def _var_combos(ctx: LoadContext, variables: dict, options: dict, file: str, loc: str
                ) -> list[dict]:
    """The test's variable bindings: the cartesian product of list values and ``file://``
    globs, unless ``options.disableVarExpansion``."""
    if options.get("disableVarExpansion"):
        return [{k: (_var_file_values(ctx, k, v, file, f"{loc}.vars")[0]
                     if isinstance(v, str) and v.startswith("file://") else v)
                 for k, v in variables.items()}]
    combos: list[dict] = [{}]
    for key, value in variables.items():
        if isinstance(value, str) and value.startswith("file://"):
            values = _var_file_values(ctx, key, value, file, f"{loc}.vars")
        elif isinstance(value, list) and value and isinstance(value[0], str):
            values = value
        else:
            values = [value]
        combos = [{**c, key: v} for c in combos for v in values]
    return combos


def _grading_options(ctx: LoadContext, options: dict, file: str, loc: str) -> dict:
    """The test's grading options (provider, rubric prompt, factuality scores) and output
    transform (JavaScript or ``file://``, run by harness eval)."""
    grading = {k: options[k] for k in ("provider", "rubricPrompt", "rubric_prompt",
                                       "factuality") if k in options}
    transform = options.get("transform") or options.get("postprocess")
    if isinstance(transform, str) and transform:
        grading["transform"] = script_ref(ctx, transform, file, f"{loc}.options.transform") \
            if transform.startswith("file://") else transform
    elif transform:
        raise ctx.error("must be JavaScript code or a file:// path",
                        f"{loc}.options.transform", file=file)
    if isinstance(grading.get("provider"), dict) and "id" in grading["provider"]:
        grader = grading["provider"]
        grader_config, _ = to_litellm_params(grader["id"], grader.get("config"))
        grading["provider"] = {**grader, "config": grader_config}
    return grading
