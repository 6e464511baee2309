"""A Jinja2 sandbox that bounds how much work and memory one render can take.

Jinja2's ``SandboxedEnvironment`` stops templates from reaching Python internals, but
not from running long: two nested ``range(100000)`` loops are 10¹⁰ iterations, and
``"x" * 10**10`` or ``"x"|center(10**10)`` allocate gigabytes. A prompt template is
user input (anyone with editor rights writes one; the gateway renders it on every
request), so every render runs under a :class:`RenderBudget`:

- **steps**: every executed block body (each loop iteration, each taken ``if``, each
  macro body) and every call, filter and intercepted operator is one step;
- **time**: a deadline checked at every step;
- **size**: all text the template produces (including text built inside macros and
  ``set`` blocks and later thrown away) and every single value an operator, filter,
  concatenation or method call makes are at most ``max_chars`` characters. Where the size
  follows from the arguments (``"x" * n``, ``center(n)``, ``"%9999999d"``, ``10 ** n``)
  it is checked *before* the allocation.

Running out raises :class:`RenderBudgetExceeded` (a ``jinja2.TemplateRuntimeError``)
naming the bound that was hit.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from string import Formatter
from typing import Any

import jinja2
from jinja2.compiler import CodeGenerator
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

MAX_INT_BITS = 100_000
"""The largest integer (in bits) an operator may produce: ``2 ** 100000`` is fine,
``10 ** 10 ** 10`` is refused before Python starts computing it."""

_SIZED = (str, bytes, list, tuple, dict, set, frozenset)
_DIGITS = re.compile(r"\d+")
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\d*)(?:\.(\d*))?")
_UNBOUNDED = 10**18
_PASSED = (Context, EvalContext, jinja2.Environment)  # what pass_context & co. prepend
_WORDWRAP_MAX_CHARS = 100_000  # textwrap is quadratic on long words: 200k chars take ~1 s

# Filters whose result can be much larger than their input, or that turn a container
# into text; the others are linear in their input and run inside counted blocks.
_AMPLIFYING_FILTERS = frozenset({
    "batch", "center", "format", "indent", "join", "list", "pprint", "replace", "slice",
    "string", "sum", "tojson", "truncate", "urlize", "wordwrap", "xmlattr",
})


class RenderBudgetExceeded(jinja2.TemplateRuntimeError):
    """A render ran out of its budget; ``bound`` says which: ``steps``, ``time`` or
    ``size``."""

    def __init__(self, bound: str, message: str) -> None:
        super().__init__(message)
        self.bound = bound


@dataclass(frozen=True)
class RenderBudget:
    """How much one render (all messages of a prompt together) may do."""

    max_chars: int = 2_000_000
    max_steps: int = 1_000_000
    timeout_s: float = 2.0


class _Meter:
    """The running count of one render, kept per thread."""

    __slots__ = ("budget", "steps", "produced", "deadline")

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        self.steps = 0
        self.produced = 0
        self.deadline = time.monotonic() + budget.timeout_s

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.budget.max_steps:
            raise RenderBudgetExceeded(
                "steps",
                f"template rendering exceeded {self.budget.max_steps} steps (loop iterations, "
                "calls and filters); make the loops smaller",
            )
        if time.monotonic() > self.deadline:
            raise RenderBudgetExceeded(
                "time", f"template rendering took longer than {self.budget.timeout_s:g} s"
            )

    def check_size(self, size: int, what: str) -> None:
        if size > self.budget.max_chars:
            raise RenderBudgetExceeded(
                "size",
                f"template rendering would make {what} of {size} characters "
                f"(at most {self.budget.max_chars})",
            )

    def output(self, text: str) -> str:
        self.produced += len(text)
        self.check_size(self.produced, "output")
        return text


_local = threading.local()


def _meter() -> _Meter | None:
    return getattr(_local, "meter", None)  # None outside ``metered``: no budget applies


class metered:  # noqa: N801 - a context manager used like a function
    """Run the renders inside the ``with`` block under one budget. Nested use shares the
    outer budget, so a prompt's messages (and an assertion value rendered inside a
    render) count together."""

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        self.outer: _Meter | None = None

    def __enter__(self) -> _Meter:
        self.outer = _meter()
        if self.outer is not None:
            return self.outer
        meter = _Meter(self.budget)
        _local.meter = meter
        return meter

    def __exit__(self, *exc: object) -> None:
        if self.outer is None:
            _local.meter = None


def _size(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value.bit_length() // 8
    if isinstance(value, _SIZED):
        return len(value)
    return 0


def weight(value: Any, limit: int) -> int:
    """About how many characters ``str(value)`` takes, counted up to just past ``limit``
    (so a list holding a million references to one long string is seen as huge before
    anything turns it into text)."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, list | tuple | dict | set | frozenset):
        return 0 if not _int(value) else value.bit_length() // 3
    total = 0
    stack: list[Any] = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 4
        elif isinstance(item, dict):
            total += 2
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2
            stack.extend(item)
        else:
            total += 6
    return total


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _largest(numbers: list[str]) -> int:
    return max((int(d) if len(d) < 19 else _UNBOUNDED for d in numbers if d), default=0)


def percent_width(text: str) -> int:
    """The largest width or precision in a ``%``-format string (``"%9999999d"``)."""
    return _largest([d for m in _PERCENT_SPEC.finditer(text) for d in m.groups() if d])


def format_width(text: str) -> int:
    """The largest number in the format specs of a ``str.format`` string (``"{:>9999999}"``);
    a spec that takes its width from an argument (``"{:{w}}"``) counts as unbounded."""
    numbers: list[str] = []
    try:
        for _literal, _field, spec, _conv in Formatter().parse(text):
            if spec:
                if "{" in spec:
                    return _UNBOUNDED
                numbers += _DIGITS.findall(spec)
    except ValueError:
        return 0  # malformed: str.format raises its own error
    return _largest(numbers)


def _replace_size(text: Any, old: Any, new: Any) -> int:
    """An upper bound of ``text.replace(old, new)``'s length."""
    if not all(isinstance(v, str) for v in (text, old, new)):
        return 0
    occurrences = len(text) // max(len(old), 1) + 1
    return len(text) + occurrences * max(len(new) - len(old), 0)


def _precheck_call(meter: _Meter, name: str, owner: Any, args: tuple, kwargs: dict) -> None:
    """Refuse a call whose result would be too large, judged from its arguments: counts
    and widths (``ljust(n)``, ``center(n)``, ``indent(n)``), replacements, joins."""
    values = (*args, *kwargs.values())
    what = f"the result of {name}"
    for arg in values:
        if _int(arg):
            meter.check_size(arg, what)
    if name == "replace":
        subject = (owner, *args) if owner is not None else args
        if len(subject) >= 3:
            meter.check_size(_replace_size(*subject[:3]), what)
    elif name == "indent":
        text = owner if owner is not None else (args[0] if args else "")
        width = args[1] if len(args) > 1 else kwargs.get("width", 4)
        prefix = len(width) if isinstance(width, str) else width if _int(width) else 4
        if isinstance(text, str):
            meter.check_size(len(text) + (text.count("\n") + 1) * prefix, what)
    elif name == "format":
        text = owner if owner is not None else (args[0] if args else "")
        if isinstance(text, str):
            meter.check_size(percent_width(text) if owner is None else format_width(text), what)
    elif name == "join":
        # str.join(items) or the join filter (items, separator)
        items = args[0] if args else None
        sep = owner if owner is not None else (args[1] if len(args) > 1 else kwargs.get("d"))
        if isinstance(items, list | tuple | set | frozenset):
            gap = len(sep) * len(items) if isinstance(sep, str) else 0
            meter.check_size(weight(items, meter.budget.max_chars) + gap, what)
    elif name == "wordwrap" and args and isinstance(args[0], str):
        if len(args[0]) > _WORDWRAP_MAX_CHARS:
            raise RenderBudgetExceeded(
                "size", f"wordwrap handles at most {_WORDWRAP_MAX_CHARS} characters")
    elif name in ("string", "tojson", "pprint", "list", "sum") and args:
        meter.check_size(weight(args[0], meter.budget.max_chars), what)


def _precheck_binop(meter: _Meter, operator: str, left: Any, right: Any) -> None:
    if operator == "**" and _int(left) and _int(right) and right > 0:
        bits = max(abs(left).bit_length() - 1, 1) * right
        if bits > MAX_INT_BITS:
            raise RenderBudgetExceeded(
                "size", f"{left} ** {right} is too large (more than {MAX_INT_BITS} bits)"
            )
    elif operator == "*" and _int(left) and _int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise RenderBudgetExceeded("size", f"a product of more than {MAX_INT_BITS} bits")
    elif operator == "*":
        limit = meter.budget.max_chars
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, _SIZED) and _int(count):
                meter.check_size(weight(seq, limit) * max(count, 0), "a repeated value")
    elif operator == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
        limit = meter.budget.max_chars
        meter.check_size(weight(left, limit) + weight(right, limit), "a concatenated value")
    elif operator == "%" and isinstance(left, str):
        meter.check_size(percent_width(left) + weight(right, meter.budget.max_chars),
                         "a formatted string")


class _BudgetedCodeGenerator(CodeGenerator):
    """Compiles templates so that every executed block body is a step, every piece of
    output (also inside macros and ``set`` blocks) is counted before it becomes text,
    and every ``~`` concatenation is size-checked."""

    def blockvisit(self, nodes: Any, frame: Any) -> None:
        self.writeline("environment.budget_step()")
        super().blockvisit(nodes, frame)

    def _output_const_repr(self, group: Any) -> str:
        return f"environment.budget_output({super()._output_const_repr(group)})"

    def _plain_output(self, frame: Any, finalize: Any) -> bool:
        return not (frame.eval_ctx.volatile or frame.eval_ctx.autoescape) and (
            finalize.src is None)

    def _output_child_pre(self, node: Any, frame: Any, finalize: Any) -> None:
        if self._plain_output(frame, finalize):
            self.write("environment.budget_str(")  # counts, then str()
        else:
            self.write("environment.budget_output(")
            super()._output_child_pre(node, frame, finalize)
            self.write("environment.budget_peek(")

    def _output_child_post(self, node: Any, frame: Any, finalize: Any) -> None:
        if self._plain_output(frame, finalize):
            self.write(")")
        else:
            self.write(")")
            super()._output_child_post(node, frame, finalize)
            self.write(")")

    def visit_Concat(self, node: Any, frame: Any) -> None:  # noqa: N802 - Jinja's visitor name
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"environment.budget_value({func_name}((")
        for arg in node.nodes:
            self.write("environment.budget_peek(")
            self.visit(arg, frame)
            self.write("), ")
        self.write(")))")


class BudgetedSandbox(SandboxedEnvironment):
    """The sandbox prompt templates are compiled in (see the module docstring). Outside
    :class:`metered` only the filters that can amplify run under a default budget (they
    are also folded at compile time); everything else behaves as in the plain sandbox."""

    code_generator_class = _BudgetedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # lipsum(n=10**9) builds gigabytes in one call, and prompts have no use for it
        self.globals.pop("lipsum", None)
        for name in _AMPLIFYING_FILTERS & set(self.filters):
            self.filters[name] = _budgeted_filter(name, self.filters[name])

    # -- hooks called by the compiled template ---------------------------------------------

    def budget_step(self) -> None:
        meter = getattr(_local, "meter", None)
        if meter is not None:
            meter.tick()

    def budget_output(self, text: str) -> str:
        meter = getattr(_local, "meter", None)
        if meter is not None:
            meter.produced += len(text)
            if meter.produced > meter.budget.max_chars:
                meter.check_size(meter.produced, "output")
        return text

    def budget_str(self, value: Any) -> str:
        """``str(value)`` for output, refused before the conversion if it would be huge."""
        meter = getattr(_local, "meter", None)
        if meter is None:
            return str(value)
        if type(value) is not str:
            meter.check_size(meter.produced + weight(value, meter.budget.max_chars), "output")
            value = str(value)
        meter.produced += len(value)
        if meter.produced > meter.budget.max_chars:
            meter.check_size(meter.produced, "output")
        return value

    def budget_peek(self, value: Any) -> Any:
        """Refuse a value that would be too large once turned into text."""
        meter = getattr(_local, "meter", None)
        if meter is not None and type(value) is not str:
            meter.check_size(weight(value, meter.budget.max_chars), "a value")
        return value

    def budget_value(self, value: Any) -> Any:
        meter = getattr(_local, "meter", None)
        if meter is not None:
            meter.check_size(_size(value), "a value")
        return value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        meter = getattr(_local, "meter", None)
        owner = getattr(__obj, "__self__", None)
        if meter is not None:
            meter.tick()
            if isinstance(owner, _SIZED):
                _precheck_call(meter, getattr(__obj, "__name__", "a method"), owner, args,
                               kwargs)
        result = SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)
        if meter is not None:
            meter.check_size(_size(result), "a value")
            if isinstance(owner, list | dict | set):  # items.extend(items) grows in place
                meter.check_size(len(owner), "a collection")
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        meter = getattr(_local, "meter", None)
        if meter is not None:
            meter.tick()
            _precheck_binop(meter, operator, left, right)
        result = self.binop_table[operator](left, right)
        if meter is not None:
            meter.check_size(_size(result), "a value")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            meter = getattr(_local, "meter", None)
            if meter is not None:
                limit = meter.budget.max_chars
                meter.check_size(
                    format_width(text) + len(text)
                    + sum(weight(v, limit) for v in (*args, *kwargs.values())),
                    "a formatted string",
                )
            return wrapped(*args, **kwargs)

        return checked


def _budgeted_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that counts as a step, is refused when its arguments promise a result
    larger than the budget, and has the size of what it returns checked."""

    @functools.wraps(fn)  # keeps jinja_pass_arg (pass_context/eval_context/environment)
    def run(*args: Any, **kwargs: Any) -> Any:
        meter = getattr(_local, "meter", None)
        if meter is None:
            # Jinja folds filters on constants while compiling (also in meta's analysis of
            # a template's variables): give that a default budget too, so a refused fold
            # is left for the metered render instead of allocating at compile time.
            with metered(RenderBudget()):
                return run(*args, **kwargs)
        meter.tick()
        plain = tuple(a for a in args if not isinstance(a, _PASSED))
        _precheck_call(meter, name, None, plain, kwargs)
        result = fn(*args, **kwargs)
        if isinstance(result, Iterator):
            return result  # lazy (batch, slice): each item is checked where it is used
        meter.check_size(_size(result), f"the result of the {name} filter")
        return result

    return run
