"""Tool-call checks with promptfoo 0.123.1's rules: tool-call-f1 (set F1 of called vs
expected tool names), is-valid-openai-tools-call and is-valid-openai-function-call /
is-valid-function-call (the call's arguments against the provider's configured
``tools`` / ``functions`` JSON schemas).

The provider output is the raw response (``ctx.raw_output``) when the model answered
with tool calls, else the text; a text answer is never a valid tools call (as in
promptfoo, where only an object or array output can be)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

from .models import Assertion, AssertionContext, AssertionEvalError, Verdict, binary

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_decoder = json.JSONDecoder()


def _line_json_blocks(text: str) -> Iterator[Any]:
    """JSON objects/arrays that start a line and end one, outside code fences (promptfoo's
    mixed text + JSON reading, simplified: blocks spanning lines are read whole)."""
    fence = ""
    offset = 0
    lines = text.split("\n")
    starts: list[int] = []
    for line in lines:
        stripped = line.rstrip()
        if fence:
            m = _FENCE.match(stripped)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and \
                    not stripped[m.end():].strip():
                fence = ""
        else:
            m = _FENCE.match(stripped)
            if m and (m.group(1)[0] != "`" or "`" not in stripped[m.end():]):
                fence = m.group(1)
            else:
                first = len(line) - len(line.lstrip())
                if stripped[first:first + 1] in ("{", "["):
                    starts.append(offset + first)
        offset += len(line) + 1
    consumed = -1
    for start in starts:
        if start < consumed:
            continue
        try:
            value, end = _decoder.raw_decode(text, start)
        except ValueError:
            continue
        rest = text[end:].split("\n", 1)[0]
        if rest.strip() == "":
            consumed = end
            yield value


def tool_names(output: Any) -> set[str]:
    names: set[str] = set()
    if output is None:
        return names
    if isinstance(output, str):
        try:
            parsed = json.loads(output)
        except ValueError:
            for block in _line_json_blocks(output):
                names |= tool_names(block)
            return names
        return tool_names(parsed)
    if isinstance(output, dict):
        if isinstance(output.get("tool_calls"), list):
            for call in output["tool_calls"]:
                if isinstance(call, dict):
                    fn = call.get("function")
                    if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                        names.add(fn["name"])
                    if isinstance(call.get("name"), str):
                        names.add(call["name"])
            return names
        if output.get("type") in ("tool_use", "function_call") and \
                isinstance(output.get("name"), str):
            return {output["name"]}
        fc = output.get("functionCall")
        if isinstance(fc, dict):
            return {fc["name"]} if isinstance(fc.get("name"), str) else names
        tc = output.get("toolCall")
        if isinstance(tc, dict):
            for call in tc.get("functionCalls") or []:
                if isinstance(call, dict) and isinstance(call.get("name"), str):
                    names.add(call["name"])
        return names
    if isinstance(output, list):
        for block in output:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use" and isinstance(block.get("name"), str):
                names.add(block["name"])
            elif isinstance(block.get("functionCall"), dict):
                if isinstance(block["functionCall"].get("name"), str):
                    names.add(block["functionCall"]["name"])
            elif isinstance(block.get("function"), dict):
                if isinstance(block["function"].get("name"), str):
                    names.add(block["function"]["name"])
            elif isinstance(block.get("name"), str):
                names.add(block["name"])
    return names


def _output(ctx: AssertionContext, text: str) -> Any:
    return ctx.raw_output if ctx.raw_output is not None else text


def check_tool_call_f1(a: Assertion, value: Any, output: str, ctx: AssertionContext) -> Verdict:
    if isinstance(value, list):
        expected_list = [str(v).strip() for v in value]
    elif isinstance(value, str):
        expected_list = [v.strip() for v in value.split(",")]
    else:
        raise AssertionEvalError('"tool-call-f1" assertion requires a value: array of tool '
                                 "names or comma-separated string")
    expected = {v for v in expected_list if v}
    if not expected:
        raise AssertionEvalError('"tool-call-f1" assertion requires at least one expected tool '
                                 "name")
    actual = tool_names(_output(ctx, output))
    hit = len(expected & actual)
    precision = hit / len(actual) if actual else 0.0
    recall = hit / len(expected)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    threshold = a.threshold if a.threshold is not None else 1.0
    passed = (f1 >= threshold) != a.inverse
    exp_list = ", ".join(sorted(expected))
    act_list = ", ".join(sorted(actual)) or "(none)"
    if passed:
        reason = (f"Tool Call F1: {f1:.3f} (precision={precision:.3f}, recall={recall:.3f}). "
                  f"Expected: [{exp_list}], Called: [{act_list}]")
    else:
        reason = (f"Tool Call F1 score {f1:.3f} is {'above' if a.inverse else 'below'} "
                  f"threshold {threshold:g}. Expected: [{exp_list}], Called: [{act_list}]. "
                  f"Precision={precision:.3f}, Recall={recall:.3f}")
    # promptfoo reports the raw F1 as the score, also for the not- form
    return Verdict(passed, f1, reason)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _validate_call(call: dict, functions: list[Any]) -> None:
    name = call["name"]
    try:
        args = json.loads(call["arguments"])
    except ValueError as exc:
        raise ValueError(f"Unexpected token in JSON arguments of {name!r}: {exc}") from exc
    schema = next((f.get("parameters") for f in functions
                   if isinstance(f, dict) and f.get("name") == name), None)
    if not schema:
        raise ValueError(f'Called "{name}", but there is no function with that name')
    try:
        errors = sorted(Draft7Validator(schema).iter_errors(args), key=lambda e: list(e.path))
    except SchemaError as exc:
        raise ValueError(f"schema of {name!r} is invalid: {exc.message}") from exc
    if errors:
        raise ValueError(f'Call to "{name}" does not match schema: '
                         + _dumps([{"instancePath": "/" + "/".join(map(str, e.path)),
                                    "message": e.message} for e in errors]))


def check_openai_tools_call(a: Assertion, value: Any, output: str,
                            ctx: AssertionContext) -> Verdict:
    raw = _output(ctx, output)
    text = raw if isinstance(raw, str) else _dumps(raw)
    if "MCP Tool Result" in text or "MCP Tool Error" in text:
        if "MCP Tool Error" in text:
            m = re.search(r"MCP Tool Error \(([^)]+)\): (.+)", text)
            return binary(False, f"MCP tool call failed for {m.group(1) if m else 'unknown'}: "
                                 f"{m.group(2) if m else 'unknown error'}")
        m = re.search(r"MCP Tool Result \(([^)]+)\):", text)
        return binary(True, f"MCP tool call succeeded for {m.group(1) if m else 'unknown'}")
    calls = raw.get("tool_calls") if isinstance(raw, dict) and "tool_calls" in raw else raw
    if not isinstance(calls, list) or not calls or any(
            not isinstance(c, dict) or not isinstance(c.get("function"), dict)
            or not isinstance(c["function"].get("name"), str)
            or not isinstance(c["function"].get("arguments"), str) for c in calls):
        return binary(False, "OpenAI did not return a valid-looking tools response: "
                             + _dumps(calls))
    tools = ctx.provider_config.get("tools")
    if not tools:
        return binary(False, "No tools configured in provider, but output contains tool calls")
    functions = [t["function"] for t in tools
                 if isinstance(t, dict) and t.get("type") == "function" and "function" in t]
    try:
        for call in calls:
            _validate_call(call["function"], functions)
    except ValueError as exc:
        return binary(False, str(exc))
    return binary(True, "Assertion passed")


def check_openai_function_call(a: Assertion, value: Any, output: str,
                               ctx: AssertionContext) -> Verdict:
    """promptfoo validates through the provider: only its OpenAI chat providers can, so
    any other provider fails with promptfoo's message."""
    pid = ctx.provider_id or ""
    if not (pid.startswith("openai:") and not pid.startswith(("openai:assistant",
                                                                "openai:realtime"))):
        return binary(False, "Provider does not have functionality for checking function call.")
    raw = _output(ctx, output)
    call = raw.get("function_call") if isinstance(raw, dict) and "function_call" in raw else raw
    if not isinstance(call, dict) or not isinstance(call.get("name"), str) or \
            not isinstance(call.get("arguments"), str):
        return binary(False, f"OpenAI did not return a valid-looking function call: "
                             f"{_dumps(call)}")
    try:
        _validate_call(call, list(ctx.provider_config.get("functions") or []))
    except ValueError as exc:
        return binary(False, str(exc))
    return binary(True, "Assertion passed")
