"""python and javascript assertions: the user's code grades the output, run in a
subprocess with a timeout (``HARNESS_SCRIPT_TIMEOUT_S``, default 30 s).

promptfoo's contract, kept here: the value is inline code (a single line is an expression
whose value is returned; several lines are a function body with ``output`` and
``context`` in scope) or ``file://path.py[:function]`` (default ``get_assert``) /
``file://path.js[:function]`` (default: the module's function or its default export).
The code returns a bool, a number (passes when > 0, or ≥ the assertion's threshold) or
a GradingResult ``{pass, score, reason}`` (snake_case keys allowed from Python); the
``not-`` form flips the verdict; a script that raises fails the assertion with the
error as its reason. ``context`` holds ``prompt``, ``vars``, ``test``, ``logProbs``,
``provider`` and ``config``.

JavaScript runs under Node.js (≥ 22.22 on PATH or the one installed into
``.harness/promptfoo``); without Node the assertion is an error that says so."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from harness.config import get_settings

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict

_PY_RUNNER = r"""
import importlib.util, json, sys, traceback
payload = json.loads(sys.stdin.read())
try:
    if payload["file"]:
        spec = importlib.util.spec_from_file_location("harness_assert", payload["file"])
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, payload["dir"])
        spec.loader.exec_module(module)
        fn = getattr(module, payload["function"])
    else:
        scope = {}
        exec(compile(payload["code"], "<assertion>", "exec"), scope)
        fn = scope["main"]
    result = fn(payload["output"], payload["context"])
    out = {"ok": True, "result": result}
except BaseException as exc:
    out = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
           "trace": traceback.format_exc(limit=5)}
sys.stdout.write("\n@@HARNESS_RESULT@@" + json.dumps(out, default=str))
"""

_JS_RUNNER = r"""
const fs = require('fs');
const payload = JSON.parse(fs.readFileSync(0, 'utf8'));
(async () => {
  let out;
  try {
    let fn;
    if (payload.file) {
      let mod;
      try { mod = require(payload.file); } catch (e) {
        if (e && e.code === 'ERR_REQUIRE_ESM') { mod = await import('file://' + payload.file); }
        else { throw e; }
      }
      const named = payload.function && mod[payload.function];
      if (typeof named === 'function') fn = named;
      else if (typeof mod === 'function') fn = mod;
      else if (mod && typeof mod.default === 'function') fn = mod.default;
      else throw new Error('Assertion malformed: ' + payload.file +
        ' must export a function or have a default export as a function');
    } else {
      fn = new Function('output', 'context', 'process', payload.code);
    }
    const result = await Promise.resolve(fn(payload.output, payload.context, process));
    out = { ok: true, result: result === undefined ? null : result, type: typeof result };
  } catch (e) {
    out = { ok: false, error: (e && e.message) || String(e) };
  }
  process.stdout.write('\n@@HARNESS_RESULT@@' + JSON.stringify(out));
})();
"""

_MARK = "@@HARNESS_RESULT@@"


def script_timeout() -> float:
    return get_settings().script_timeout_s


def python_script(code: str) -> str:
    """promptfoo's wrapper: one line → ``return <line>``; several → the function body,
    indented like the code's first indented line (4 spaces when none is)."""
    if "\n" in code:
        m = re.search(r"^(?!\s*$)\s+", code, re.M)
        indent = m.group(0) if m else "    "
        body = "\n".join(f"{indent}{line}" for line in code.split("\n"))
    else:
        body = f"    return {code}"
    return f"import json\n\ndef main(output, context):\n{body}\n"


def _last_semicolon(code: str) -> int:
    single = double = template = False
    last = -1
    for i, ch in enumerate(code):
        slashes = 0
        j = i - 1
        while j >= 0 and code[j] == "\\":
            slashes += 1
            j -= 1
        if slashes % 2 == 0:
            if ch == "'" and not double and not template:
                single = not single
            elif ch == '"' and not single and not template:
                double = not double
            elif ch == "`" and not single and not double:
                template = not template
        if ch == ";" and not (single or double or template):
            last = i
    return last


def javascript_body(code: str) -> str:
    code = code.rstrip()
    if "\n" in code:
        return code
    trimmed = re.sub(r";+\s*$", "", code.strip())
    if re.match(r"^(const|let|var)\s", trimmed):
        last = _last_semicolon(trimmed)
        if last != -1:
            expression = trimmed[last + 1:].strip()
            if expression:
                return f"{trimmed[:last + 1]} return {expression}"
        return trimmed
    return f"return {trimmed}"


def _file_ref(value: str, base: str | None) -> tuple[Path, str | None]:
    ref = value[len("file://"):]
    function = None
    m = re.match(r"^(.*\.(?:py|js|cjs|mjs))(?::([\w.]+))?$", ref)
    if m:
        ref, function = m.group(1), m.group(2)
    path = Path(ref)
    if not path.is_absolute():
        path = Path(base or ".") / path
    return path.resolve(), function


def script_context(output: Any, ctx: AssertionContext, a: Assertion) -> dict[str, Any]:
    context: dict[str, Any] = {
        "prompt": ctx.prompt,
        "vars": ctx.vars,
        "test": ctx.test or {"vars": ctx.vars},
        "logProbs": ctx.logprobs,
        "provider": {"id": ctx.provider_id} if ctx.provider_id else None,
        "providerResponse": {"output": output, "finishReason": ctx.finish_reason},
    }
    config = (a.model_extra or {}).get("config")
    if isinstance(config, dict):
        context["config"] = config
    return context


async def _run(command: list[str], payload: dict[str, Any], cwd: str | None) -> dict[str, Any]:
    # its own process group, so a timeout also ends whatever the user's code started
    proc = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=cwd, start_new_session=True)
    data = json.dumps(payload, default=str).encode()
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout=script_timeout())
    except (TimeoutError, asyncio.CancelledError) as exc:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return {"ok": False, "error": f"timed out after {script_timeout():g} s"}
    text = out.decode("utf-8", "replace")
    if _MARK not in text:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-5:]
        return {"ok": False, "error": f"exited with code {proc.returncode}"
                + (": " + " | ".join(tail) if tail else "")}
    return json.loads(text.rsplit(_MARK, 1)[1])


def _is_grading_result(r: Any) -> bool:
    return (isinstance(r, dict) and isinstance(r.get("pass"), bool)
            and isinstance(r.get("score"), int | float) and not isinstance(r.get("score"), bool)
            and isinstance(r.get("reason"), str))


def _camel(result: dict[str, Any]) -> dict[str, Any]:
    out = dict(result)
    for snake, camel in (("pass_", "pass"), ("named_scores", "namedScores"),
                         ("component_results", "componentResults"),
                         ("tokens_used", "tokensUsed")):
        if snake in out and camel not in out:
            out[camel] = out[snake]
    return out


def normalize(a: Assertion, result: Any, code_label: str, language: str,
              suffix: str | None) -> Verdict:
    """promptfoo's reading of a script's answer (bool / number / GradingResult)."""
    inverse = a.inverse

    def failure(raw: bool) -> str:
        reason = f"{code_label} returned {'true' if raw else 'false'}"
        return f"{reason}\n{suffix}" if suffix else reason

    if isinstance(result, str) and result.lower() in ("true", "false"):
        result = result.lower() == "true"
    elif isinstance(result, str) and result.startswith("{"):
        try:
            result = json.loads(result)
        except ValueError as exc:
            raise ValueError(f"Invalid JSON: {exc} when parsing result: {result}") from exc
    if isinstance(result, bool):
        passed = result != inverse
        return Verdict(passed, 1.0 if passed else 0.0, "Assertion passed" if passed
                       else failure(result))
    if isinstance(result, dict):
        mapped = _camel(result) if language == "Python" else result
        if not _is_grading_result(mapped):
            raise ValueError(f"{language} assertion must return a boolean, number, or "
                             f"{{pass, score, reason}} object. Got instead:\n"
                             f"{json.dumps(mapped, indent=2, default=str)}")
        raw_pass, score, reason = mapped["pass"], float(mapped["score"]), mapped["reason"]
        if a.threshold is not None and score < a.threshold and language == "Python":
            raw_pass = False
            msg = f"{language} score {mapped['score']} is less than threshold {a.threshold:g}"
            reason = f"{msg}: {reason}" if reason else msg
        passed = raw_pass != inverse
        if passed != raw_pass:
            reason = "Assertion passed" if passed else \
                f"{code_label} returned {'true' if raw_pass else 'false'}"
        return Verdict(passed, score, reason)
    try:
        score = float(result) if not isinstance(result, str) else float(
            re.match(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", result).group(0))
    except (TypeError, ValueError, AttributeError):
        score = math.nan
    if math.isnan(score):
        raise ValueError(f"{language} assertion must return a boolean, number, or "
                         f"{{pass, score, reason}} object. Instead got:\n{result}")
    raw = score > 0 if a.threshold is None else score >= a.threshold
    passed = raw != inverse
    return Verdict(passed, score, "Assertion passed" if passed else failure(raw))


async def check_python(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if not isinstance(value, str):
        raise AssertionEvalError("python assertion must have a string value")
    raw_output = ctx.raw_output if ctx.raw_output is not None else output
    payload: dict[str, Any] = {"output": raw_output, "context": script_context(raw_output, ctx, a),
                               "file": None, "code": None}
    is_file = value.startswith("file://")
    if is_file:
        path, function = _file_ref(value, ctx.base_path)
        payload.update(file=str(path), dir=str(path.parent), function=function or "get_assert")
    else:
        payload["code"] = python_script(value)
    python = os.environ.get("PROMPTFOO_PYTHON") or sys.executable
    answer = await _run([python, "-c", _PY_RUNNER], payload, ctx.base_path)
    if not answer.get("ok"):
        why = answer.get("error", "unknown error")
        return Verdict(False, 0.0, why if is_file else f"Python code execution failed: {why}")
    try:
        return normalize(a, answer.get("result"), "Python code", "Python", a.value)
    except ValueError as exc:
        return Verdict(False, 0.0, f"Python code execution failed: {exc}")


async def check_javascript(a: Assertion, value: Any, output: str,
                           ctx: AssertionContext) -> Verdict:
    from harness.promptfoo.node import NodeMissing, find_node

    if not isinstance(value, str):
        raise AssertionEvalError("javascript assertion must have a string value")
    try:
        node = find_node()
    except NodeMissing as exc:
        raise AssertionEvalError(f"javascript assertions run under Node.js: {exc}") from exc
    raw_output = ctx.raw_output if ctx.raw_output is not None else output
    payload: dict[str, Any] = {"output": raw_output, "context": script_context(raw_output, ctx, a),
                               "file": None, "code": None, "function": None}
    rendered = value.rstrip()
    if value.startswith("file://"):
        path, function = _file_ref(value, ctx.base_path)
        payload.update(file=str(path), function=function)
    else:
        payload["code"] = javascript_body(rendered)
    answer = await _run([str(node), "-e", _JS_RUNNER], payload, ctx.base_path)
    suffix = rendered if not value.startswith("file://") else None
    if not answer.get("ok"):
        reason = f"Custom function threw error: {answer.get('error')}"
        return Verdict(False, 0.0, f"{reason}\n{suffix}" if suffix else reason)
    result = answer.get("result")
    if not (isinstance(result, bool | int | float) or _is_grading_result(result)):
        reason = (f"Custom function threw error: Custom function must return a boolean, "
                  f"number, or GradingResult object. Got type {answer.get('type')}: "
                  f"{json.dumps(result)}")
        return Verdict(False, 0.0, f"{reason}\n{suffix}" if suffix else reason)
    try:
        return normalize(a, result, "Custom function", "JavaScript", suffix)
    except ValueError as exc:
        return Verdict(False, 0.0, f"Custom function threw error: {exc}")


async def run_transform(code: str, output: Any, ctx: AssertionContext) -> Any:
    """An assertion's ``transform`` (promptfoo's contract): inline JavaScript — one line is
    an expression of ``output`` and ``context``, several lines a function body — or
    ``file://x.js[:fn]`` / ``file://x.py[:fn]`` (Python default ``get_transform``). The
    value it returns replaces the output for that assertion; ``None`` is an error."""
    context = {"vars": ctx.vars, "prompt": {"label": ctx.prompt}}
    payload: dict[str, Any] = {"output": output, "context": context, "file": None,
                               "code": None, "function": None}
    if code.startswith("file://"):
        path, function = _file_ref(code, ctx.base_path)
        if path.suffix == ".py":
            payload.update(file=str(path), dir=str(path.parent),
                           function=function or "get_transform")
            python = os.environ.get("PROMPTFOO_PYTHON") or sys.executable
            answer = await _run([python, "-c", _PY_RUNNER], payload, ctx.base_path)
        else:
            payload.update(file=str(path), function=function)
            answer = await _run_node(payload, ctx)
        label = "file"
    else:
        payload["code"] = code if "\n" in code else f"return {code}"
        answer = await _run_node(payload, ctx)
        label = " ".join(code.split())[:80]
    if not answer.get("ok"):
        raise AssertionEvalError(f"Transform failed ({label}): {answer.get('error')}")
    if answer.get("result") is None:
        raise AssertionEvalError(f"Transform function did not return a value ({label})")
    return answer["result"]


async def _run_node(payload: dict[str, Any], ctx: AssertionContext) -> dict[str, Any]:
    from harness.promptfoo.node import NodeMissing, find_node

    try:
        node = find_node()
    except NodeMissing as exc:
        raise AssertionEvalError(f"transforms run under Node.js: {exc}") from exc
    return await _run([str(node), "-e", _JS_RUNNER], payload, ctx.base_path)


def js_json(value: Any) -> str:
    """``JSON.stringify`` of a JSON value (compact; whole floats without ``.0``)."""
    def fix(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
            return int(v)
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return v

    return json.dumps(fix(value), separators=(",", ":"), ensure_ascii=False)
