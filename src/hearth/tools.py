"""Tools a model may call: a Python function, a pydantic model or a raw JSON schema.

>>> @hearth.tool
... def add(a: int, b: int = 0) -> int:
...     '''Add two integers.
...
...     Args:
...         a: the first number
...         b: the second number
...     '''
...     return a + b
>>> add.spec.parameters["properties"]["a"]
{'description': 'the first number', 'type': 'integer'}
>>> add.run('{"a": 2, "b": "x"}').content
"invalid arguments for tool 'add': b: Input should be a valid integer, … (got 'x'). …"

A :class:`Tool` validates the model's arguments (raw JSON text) before its function runs. Bad
arguments and a failing function become a :class:`ToolResult` with ``is_error=True`` whose text
tells the model what to fix: :meth:`Tool.run` / :meth:`Tool.arun` never raise for them.

pydantic, jsonschema and docstring-parser are imported on first use, not with ``hearth``.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from hearth.errors import InvalidRequestError, ToolArgumentsError
from hearth.messages import JsonObject
from hearth.request import ToolSpec

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["Tool", "ToolArgumentsError", "ToolResult", "as_tool", "tool"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call produced: ``content`` is what the model sees."""

    content: str
    is_error: bool = False


class Tool:
    """A tool: name, description, JSON schema of its arguments, and (optionally) a function.

    Build one with :func:`tool`, :meth:`from_function`, :meth:`from_model` or
    :meth:`from_schema`. Immutable. ``timeout`` (seconds) and ``concurrent`` are hints for the
    code that runs tool calls (the agent loop): hearth's Tool does not enforce them itself.
    Calling the Tool object calls its function directly, unvalidated.
    """

    __slots__ = ("_fn", "_invoke", "_validate", "concurrent", "description", "name",
                 "parameters", "timeout")  # fmt: skip

    name: str
    description: str
    parameters: JsonObject
    timeout: float | None
    concurrent: bool
    _validate: Callable[[JsonObject], object]
    _invoke: Callable[[object], object] | None
    _fn: Callable[..., object] | None

    def __init__(
        self,
        name: str,
        description: str,
        parameters: JsonObject,
        *,
        validate: Callable[[JsonObject], object],
        invoke: Callable[[object], object] | None,
        fn: Callable[..., object] | None = None,
        timeout: float | None = None,
        concurrent: bool = True,
    ) -> None:
        """Low-level: prefer the ``from_*`` constructors. ``validate`` turns the parsed JSON
        arguments into the value ``invoke`` is called with (raising ToolArgumentsError, or any
        ValueError, when they are wrong); without ``invoke`` the tool returns its arguments."""
        if not _NAME.match(name):
            raise InvalidRequestError(
                f"tool name {name!r} is not allowed: use 1-64 letters, digits, '_' or '-' "
                "(pass name=... to choose one)"
            )
        if parameters.get("type") != "object":
            raise InvalidRequestError(
                f'tool {name!r}: the arguments schema must have "type": "object", '
                f"got {parameters.get('type')!r}"
            )
        if timeout is not None and not timeout > 0:
            raise InvalidRequestError(f"tool {name!r}: timeout must be > 0 seconds or None")
        for attr, value in (
            ("name", name), ("description", description), ("parameters", parameters),
            ("timeout", timeout), ("concurrent", concurrent), ("_validate", validate),
            ("_invoke", invoke), ("_fn", fn),
        ):  # fmt: skip
            object.__setattr__(self, attr, value)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"Tool is immutable; cannot set {key!r}")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"Tool is immutable; cannot delete {key!r}")

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the tool's function directly (no validation), as if undecorated."""
        if self._fn is None:
            raise TypeError(f"tool {self.name!r} has no function to call")
        return self._fn(*args, **kwargs)

    @property
    def spec(self) -> ToolSpec:
        """What a request sends to the model."""
        return ToolSpec(self.name, self.description, self.parameters)

    @property
    def is_async(self) -> bool:
        """True when the function is a coroutine function."""
        return self._fn is not None and inspect.iscoroutinefunction(self._fn)

    # -- running --------------------------------------------------------------------------------

    def validate(self, arguments: str) -> object:
        """Parse and validate the model's arguments (JSON text); raise ToolArgumentsError.

        An empty string counts as ``{}``. Returns the value the function receives: a dict of
        keyword arguments (functions), a model instance (pydantic), the JSON object (schemas).
        """
        text = arguments.strip() or "{}"
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ToolArgumentsError(
                f"the arguments for tool {self.name!r} are not valid JSON ({exc}); "
                "send one JSON object that matches the tool's parameters schema",
                tool=self.name,
            ) from None
        if not isinstance(data, dict):
            raise ToolArgumentsError(
                f"the arguments for tool {self.name!r} must be a JSON object, got "
                f"{type(data).__name__}: {text[:200]}",
                tool=self.name,
            )
        try:
            return self._validate(data)
        except ToolArgumentsError:
            raise
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ToolArgumentsError(
                f"invalid arguments for tool {self.name!r}: {_describe(exc)}. Call it again "
                "with arguments that match its parameters schema.",
                tool=self.name,
            ) from None

    def run(self, arguments: str) -> ToolResult:
        """Validate, call, and turn the outcome into a ToolResult; never raises for bad
        arguments or a failing function. A coroutine function runs to completion here."""
        try:
            value = self.validate(arguments)
        except ToolArgumentsError as exc:
            return ToolResult(str(exc), is_error=True)
        try:
            out = self._call(value)
            if inspect.isawaitable(out):
                out = _run_coroutine(out)
        except Exception as exc:
            return self._failed(exc)
        return _result(out)

    async def arun(self, arguments: str) -> ToolResult:
        """The async twin of :meth:`run`: a coroutine function is awaited, a plain function
        runs in a worker thread so the event loop is not blocked."""
        import anyio

        try:
            value = self.validate(arguments)
        except ToolArgumentsError as exc:
            return ToolResult(str(exc), is_error=True)
        try:
            if self.is_async or self._invoke is None:
                out = self._call(value)
            else:
                out = await anyio.to_thread.run_sync(functools.partial(self._call, value))
            if inspect.isawaitable(out):
                out = await out
        except Exception as exc:
            return self._failed(exc)
        return _result(out)

    def _call(self, value: object) -> object:
        if self._invoke is None:
            return value
        return self._invoke(value)

    def _failed(self, exc: Exception) -> ToolResult:
        detail = str(exc) or "(no message)"
        return ToolResult(
            f"tool {self.name!r} failed: {type(exc).__name__}: {detail}", is_error=True
        )

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., object],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        concurrent: bool = True,
    ) -> Tool:
        """A tool from a function: the schema comes from its type hints (pydantic) and the
        ``Args:`` / ``:param:`` / numpydoc section of its docstring; the description from the
        rest of the docstring. ``Annotated[int, Field(description=...)]`` works too."""
        from hearth._schema import clean_schema, function_arguments

        args = function_arguments(fn)
        return cls(
            name or str(getattr(fn, "__name__", "")),
            args.summary if description is None else description,
            clean_schema(args.model.model_json_schema()),
            validate=args.validate,
            invoke=args.call,
            fn=fn,
            timeout=timeout,
            concurrent=concurrent,
        )

    @classmethod
    def from_model(
        cls,
        model: type[BaseModel],
        fn: Callable[[Any], object] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        concurrent: bool = True,
    ) -> Tool:
        """A tool whose arguments are a pydantic model. ``fn`` receives the validated
        instance; without it, the tool's result is the validated arguments as JSON."""
        from hearth._schema import clean_schema, docstring_summary

        schema = clean_schema(model.model_json_schema())
        doc = schema.pop("description", None)
        if description is None:
            described = docstring_summary(fn)[0] if fn is not None else ""
            description = described or (doc if isinstance(doc, str) else "")
        default_name = getattr(fn, "__name__", None) if fn is not None else model.__name__
        return cls(
            name or default_name or model.__name__,
            description,
            schema,
            validate=model.model_validate,
            invoke=fn,
            fn=fn,
            timeout=timeout,
            concurrent=concurrent,
        )

    @classmethod
    def from_schema(
        cls,
        name: str,
        schema: JsonObject,
        fn: Callable[..., object] | None = None,
        *,
        description: str = "",
        timeout: float | None = None,
        concurrent: bool = True,
    ) -> Tool:
        """A tool from a raw JSON schema (checked with the ``jsonschema`` library, whose
        validator for the schema's ``$schema`` dialect, else 2020-12, checks the arguments).
        ``fn`` is called with the arguments as keywords; without it the tool returns them."""
        from hearth._schema import schema_validator

        check = schema_validator(schema, what=f"tool {name!r}")

        def invoke(value: object) -> object:
            assert fn is not None and isinstance(value, dict)
            return fn(**value)

        return cls(
            name,
            description,
            schema,
            validate=check,
            invoke=invoke if fn is not None else None,
            fn=fn,
            timeout=timeout,
            concurrent=concurrent,
        )


@overload
def tool(fn: Callable[..., object]) -> Tool: ...


@overload
def tool(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    concurrent: bool = True,
) -> Callable[[Callable[..., object]], Tool]: ...


def tool(
    fn: Callable[..., object] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    concurrent: bool = True,
) -> Tool | Callable[[Callable[..., object]], Tool]:
    """Decorator: ``@tool`` or ``@tool(name=..., timeout=...)`` turns a function into a
    :class:`Tool` (see :meth:`Tool.from_function`). The result stays callable."""

    def wrap(f: Callable[..., object]) -> Tool:
        return Tool.from_function(
            f, name=name, description=description, timeout=timeout, concurrent=concurrent
        )

    return wrap if fn is None else wrap(fn)


def as_tool(obj: Tool | ToolSpec | Callable[..., object] | type[BaseModel]) -> Tool:
    """Whatever a caller passes as a tool, as a :class:`Tool`: a Tool as is, a pydantic model
    class (:meth:`Tool.from_model`), a ToolSpec (:meth:`Tool.from_schema`, no function), a
    function (:meth:`Tool.from_function`)."""
    if isinstance(obj, Tool):
        return obj
    if isinstance(obj, ToolSpec):
        return Tool.from_schema(obj.name, obj.parameters, description=obj.description)
    if isinstance(obj, type):
        from pydantic import BaseModel

        if issubclass(obj, BaseModel):
            return Tool.from_model(obj)
    if callable(obj):
        return Tool.from_function(obj)
    raise InvalidRequestError(
        f"cannot use a {type(obj).__name__} as a tool; pass a hearth.Tool, a function, a "
        "pydantic model class or a hearth.ToolSpec"
    )


# -- helpers ------------------------------------------------------------------------------------


def _result(out: object) -> ToolResult:
    if isinstance(out, ToolResult):
        return out
    if isinstance(out, str):
        return ToolResult(out)
    from pydantic_core import to_json

    return ToolResult(to_json(out, fallback=str).decode())


def _run_coroutine(awaitable: Awaitable[object]) -> object:
    """Run a coroutine from sync code: here if no event loop runs in this thread, else in a
    helper thread with its own loop (so run() works inside async code too)."""

    import asyncio

    async def main() -> object:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(main())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="hearth-tool")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def _describe(exc: ValueError) -> str:
    """A validation error as one line per problem: ``location: message``."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        lines = []
        for e in errors(include_url=False):
            loc = ".".join(str(p) for p in e.get("loc", ())) or "(arguments)"
            lines.append(f"{loc}: {e.get('msg', 'invalid')} (got {e.get('input')!r})")
        return "; ".join(lines)
    return str(exc)
