"""The Jinja sandbox a GGUF chat template runs in, and the budget that bounds its work.

A chat template is untrusted code. :class:`TemplateSandbox` is Jinja's immutable sandbox, made

* to fail loudly: touching a private attribute (``''.__class__``) raises at once instead of
  rendering as undefined;
* to refuse huge values: ``*``, ``+`` and ``**`` may not build a string, list or number past
  :data:`MAX_RENDER_CHARS` items (or :data:`MAX_POWER_BITS` bits), nor may formatting
  (``%``, ``str.format``, the ``format`` filter) ask for a wider field, string methods and
  filters pad (``center``, ``ljust``, ``indent`` …), replace or join past it;
* to stop: every render runs under a :class:`RenderBudget` of steps and seconds. A step is one
  iteration of a ``{% for %}`` loop, one call (of a macro, a method, ``loop(…)`` in a recursive
  loop), one attribute or item lookup, or one arithmetic operation; the work between two steps
  is bounded (one ``range()`` of at most 100,000 items, one filter over a value of bounded
  size). A template that loops without end (``range(100000)`` nested twice is 10^10 steps) fails
  with :class:`BudgetExceededError` after the budget's seconds, on whatever thread renders it.

Loops are counted by rewriting the parsed template: each ``{% for x in ITER %}`` becomes
``{% for x in environment.hearth_budgeted(ITER) %}``. The name is an attribute of the
environment in the generated Python, not a template variable, so no template can shadow it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RENDER_CHARS = 4 * 1024 * 1024
"""The most characters a template may render (and a sandboxed ``*``/``+`` may build)."""

MAX_POWER_BITS = 4096
"""The largest integer, in bits, a sandboxed ``**`` may compute."""

DEFAULT_MAX_STEPS = 20_000_000
"""Steps a render may take: far above what any real template needs for a full context window
(a few hundred per message), and a few seconds of CPython."""

DEFAULT_MAX_SECONDS = 5.0
"""Seconds a render may take, whatever it does."""

_CLOCK_EVERY = 256  # steps between two looks at the clock


class BudgetExceededError(SecurityError):
    """The template ran past its budget of steps or seconds."""


class RenderBudget:
    """Steps and seconds left to one render; :meth:`step` raises once either runs out."""

    __slots__ = ("_deadline", "_steps", "max_seconds", "max_steps")

    def __init__(self, max_steps: int, max_seconds: float) -> None:
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self._steps = 0
        self._deadline = time.monotonic() + max_seconds

    def step(self) -> None:
        self._steps += 1
        if self._steps > self.max_steps:
            raise BudgetExceededError(self._message(f"{self.max_steps:,} steps"))
        if self._steps % _CLOCK_EVERY == 0 and time.monotonic() > self._deadline:
            raise BudgetExceededError(self._message(f"{self.max_seconds:g} s"))

    def _message(self, what: str) -> str:
        return (
            f"the template did not finish within its budget of {what} (it loops without end, "
            "or far longer than any chat template needs): the model's chat template is broken "
            "or hostile"
        )


_budget: ContextVar[RenderBudget | None] = ContextVar("hearth_template_budget", default=None)


@contextmanager
def budget(max_steps: int, max_seconds: float) -> Iterator[RenderBudget]:
    """Run the renders inside the ``with`` block (on this thread) under a fresh budget."""
    current = RenderBudget(max_steps, max_seconds)
    token = _budget.set(current)
    try:
        yield current
    finally:
        _budget.reset(token)


def _step() -> None:
    current = _budget.get()
    if current is not None:
        current.step()


def _result_size(operator: str, left: Any, right: Any) -> int | None:
    """How many items ``left <operator> right`` builds, for string / list repetition and joins."""
    sized = (str, list, tuple)
    if operator == "*" and isinstance(left, sized) and isinstance(right, int):
        return len(left) * right
    if operator == "*" and isinstance(right, sized) and isinstance(left, int):
        return len(right) * left
    if operator == "+" and isinstance(left, sized) and isinstance(right, sized):
        return len(left) + len(right)
    return None


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse sandboxed arithmetic that would build a huge value before any output is made."""
    if operator == "**" and isinstance(left, int) and isinstance(right, int):
        if left.bit_length() * max(right, 0) > MAX_POWER_BITS:
            raise SecurityError(f"{left} ** {right} is a larger number than templates may compute")
        return
    if operator == "%" and isinstance(left, str):
        _check_format(left)
        return
    size = _result_size(operator, left, right)
    if size is not None and size > MAX_RENDER_CHARS:
        raise SecurityError(
            f"the operator {operator!r} would build a value of {size} items, over the "
            f"{MAX_RENDER_CHARS} limit"
        )


_WIDTHS = re.compile(r"\d+")
_SIZED_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _check_format(template: str) -> None:
    """Refuse a ``%`` or ``str.format`` template asking for a field wider than the output
    bound (``'%999999999d'``, ``'{:>999999999}'``)."""
    for number in _WIDTHS.findall(template):
        if len(number) > 7 and int(number) > MAX_RENDER_CHARS:
            raise SecurityError(
                f"the format {template[:40]!r} asks for a field of {int(number)} characters, "
                f"over the {MAX_RENDER_CHARS} limit"
            )


def _too_big(size: int, what: str) -> None:
    if size > MAX_RENDER_CHARS:
        raise SecurityError(
            f"{what} would build a string of {size} characters, over the {MAX_RENDER_CHARS} limit"
        )


def check_str_call(obj: Any, args: tuple[Any, ...]) -> None:
    """Refuse a call of a string method that would build a value past the output bound:
    padding to a huge width, or replacing/joining into a huge string."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in _SIZED_METHODS and args and isinstance(args[0], int):
        width = max(args[0], 0)
        size = width * owner.count("\t") + len(owner) if name == "expandtabs" else width
        _too_big(size, f"str.{name}")
    elif name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        hits = owner.count(args[0]) if args[0] else len(owner) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            hits = min(hits, args[2])
        _too_big(len(owner) + hits * max(0, len(args[1]) - len(args[0])), "str.replace")
    elif name == "join" and args and isinstance(args[0], list | tuple):
        items = args[0]
        size = sum(len(i) for i in items if isinstance(i, str)) + len(owner) * len(items)
        _too_big(size, "str.join")


def _bounded_filters(filters: dict[str, Any]) -> None:
    """Wrap the built-in filters that can build a huge string from a small one."""
    center, indent, fmt, replace = (
        filters["center"], filters["indent"], filters["format"], filters["replace"]
    )  # fmt: skip

    def bounded_center(value: Any, width: int = 80) -> str:
        _too_big(width if isinstance(width, int) else 0, "the center filter")
        return str(center(value, width))

    def bounded_indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> str:
        pad = width if isinstance(width, int) else len(str(width))
        _too_big(pad * (str(value).count("\n") + 1) + len(str(value)), "the indent filter")
        return str(indent(value, width, *args, **kwargs))

    def bounded_format(value: Any, *args: Any, **kwargs: Any) -> str:
        _check_format(str(value))
        return str(fmt(value, *args, **kwargs))

    def bounded_replace(context: Any, value: Any, old: Any, new: Any, count: Any = None) -> str:
        text = str(value)
        hits = text.count(str(old)) if str(old) else len(text) + 1
        _too_big(len(text) + hits * max(0, len(str(new)) - len(str(old))), "the replace filter")
        return str(replace(context, value, old, new, count))

    bounded_replace.jinja_pass_arg = replace.jinja_pass_arg  # type: ignore[attr-defined]
    filters.update(
        center=bounded_center, indent=bounded_indent, format=bounded_format,
        replace=bounded_replace,
    )  # fmt: skip


def _count_loops(tree: nodes.Template) -> nodes.Template:
    """Wrap the iterable of every ``for`` loop so that each iteration is a step."""
    for loop in tree.find_all(nodes.For):
        counted = nodes.Call(
            nodes.EnvironmentAttribute("hearth_budgeted"), [loop.iter], [], None, None
        )
        loop.iter = counted.set_lineno(loop.iter.lineno)
    return tree


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, made to fail loudly on unsafe attributes and huge values, and to
    count its steps against the current :func:`budget`."""

    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _bounded_filters(self.filters)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        return _count_loops(super()._parse(source, name, filename))

    @staticmethod
    def hearth_budgeted(iterable: Iterable[Any]) -> Iterator[Any]:
        """``iterable``'s items, one step each (what ``{% for %}`` loops iterate)."""
        for item in iterable:
            _step()
            yield item

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__} object is not allowed"
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _step()
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _step()
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _step()
        check_str_call(__obj, args)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format(value.__self__)
        return wrapped
