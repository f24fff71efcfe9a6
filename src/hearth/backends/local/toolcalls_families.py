"""Reading one tool call's text, once its extent is known. Pure functions, no streaming.

:mod:`hearth.backends.local.toolcalls` finds where a call starts and ends in the model's text;
this module turns that text into :class:`~hearth.messages.ToolCallPart` values:

* :func:`json_calls` — a JSON object ``{"name": …, "arguments"|"parameters": …}`` (Hermes, Llama 3,
  Mistral), a list of them, or an OpenAI-style ``{"type": "function", "function": {…}}``;
* :func:`python_calls` — Python call syntax ``name(arg=value, …)``, one or more per block (Gemma's
  ````tool_code```` blocks, Llama 3.1's ``brave_search.call(query=…)``). The text is parsed with
  :mod:`ast` and only literals are accepted; nothing is ever evaluated.

A call that cannot be read is still returned, as a part whose ``arguments`` hold the raw text and
whose ``meta`` says ``{"error": "…"}``: the agent then answers it with an error result, so the
model learns what was wrong instead of the caller seeing a crash.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Callable, Collection

from hearth.messages import JsonObject, JsonValue, ToolCallPart

IdFactory = Callable[[], str]


def new_call_id() -> str:
    """A fresh, unique tool-call id: ``call_`` and 24 hex digits."""
    return "call_" + uuid.uuid4().hex[:24]


class _BadCallError(Exception):
    """A call's text is not a well-formed call; the message says why."""


class CallBuilder:
    """Makes parts for one parser: fresh ids, and tool names checked against the known tools."""

    def __init__(self, tool_names: Collection[str], new_id: IdFactory = new_call_id) -> None:
        self.tool_names = frozenset(tool_names)
        self.new_id = new_id

    def call(self, name: str, arguments: JsonObject) -> ToolCallPart:
        """A well-formed call; one to an unknown tool carries an error in its meta."""
        text = json.dumps(arguments, ensure_ascii=False)
        if name not in self.tool_names:
            known = ", ".join(sorted(self.tool_names)) or "none"
            return self.error(name, text, f"unknown tool {name!r}; the tools are: {known}")
        return ToolCallPart(id=self.new_id(), name=name, arguments=text)

    def error(self, name: str, raw: str, problem: str) -> ToolCallPart:
        """A call that could not be read: its raw text, and the problem in ``meta["error"]``."""
        return ToolCallPart(id=self.new_id(), name=name, arguments=raw, meta={"error": problem})


# --- JSON calls ---------------------------------------------------------------------------------

_NAME_GUESS = re.compile(r'"name"\s*:\s*"([^"\\]{1,128})"')


def _guess_json_name(raw: str) -> str:
    found = _NAME_GUESS.search(raw)
    return found.group(1) if found else ""


def _arguments_of(obj: dict[str, JsonValue]) -> JsonObject:
    for key in ("arguments", "parameters"):
        if key not in obj:
            continue
        value = obj[key]
        if isinstance(value, str):  # some models write the arguments as a JSON string
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise _BadCallError(f"the {key!r} string is not JSON: {exc.msg}") from exc
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise _BadCallError(f"{key!r} must be a JSON object, got {type(value).__name__}")
        return value
    return {}


def _name_and_arguments(value: JsonValue) -> tuple[str, JsonObject]:
    if not isinstance(value, dict):
        raise _BadCallError('a tool call must be a JSON object like {"name": …, "arguments": {…}}')
    function = value.get("function")
    if isinstance(function, dict) and "name" in function:  # OpenAI style
        value = function
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise _BadCallError('the call has no "name" string')
    return name, _arguments_of(value)


def json_calls(raw: str, builder: CallBuilder) -> list[ToolCallPart]:
    """The calls in ``raw``: one JSON call object, or a JSON list of them."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        problem = f"the tool call is not valid JSON: {exc.msg} at position {exc.pos}"
        return [builder.error(_guess_json_name(raw), raw, problem)]
    items = value if isinstance(value, list) else [value]
    if not items:
        return [builder.error("", raw, "the list of tool calls is empty")]
    parts: list[ToolCallPart] = []
    for item in items:
        item_raw = raw if len(items) == 1 else json.dumps(item, ensure_ascii=False)
        try:
            name, arguments = _name_and_arguments(item)
        except _BadCallError as exc:
            parts.append(builder.error(_guess_json_name(item_raw), item_raw, str(exc)))
            continue
        parts.append(builder.call(name, arguments))
    return parts


def named_json_call(name: str, raw: str, builder: CallBuilder) -> ToolCallPart:
    """Mistral's ``name[ARGS]{…}``: a name, then the arguments object as JSON."""
    name = name.strip()
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        return builder.error(name, raw, f"the arguments are not valid JSON: {exc.msg}")
    if not isinstance(value, dict):
        return builder.error(name, raw, "the arguments must be a JSON object")
    if not name:
        return builder.error(name, raw, "the call has no tool name")
    return builder.call(name, value)


# --- Python call syntax -------------------------------------------------------------------------

_JSON_WORDS: dict[str, JsonValue] = {"true": True, "false": False, "null": None}
_CALL_GUESS = re.compile(r"([A-Za-z_][\w.]*)\s*\(")


def _literal(node: ast.expr) -> JsonValue:
    """A literal expression as a JSON value; anything else (names, calls, operators) is refused."""
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, str | bool | int | float):
            return node.value
        raise _BadCallError(f"{type(node.value).__name__} values cannot be sent as JSON")
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(item) for item in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, JsonValue] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            name = None if key is None else _literal(key)
            if not isinstance(name, str):
                raise _BadCallError("dictionary keys must be strings")
            out[name] = _literal(item)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _literal(node.operand)
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Name) and node.id in _JSON_WORDS:
        return _JSON_WORDS[node.id]
    raise _BadCallError(f"only literal values are allowed as arguments, not {ast.unparse(node)!r}")


def _function_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        # Llama 3.1 built-ins: brave_search.call(...); Gemini style: default_api.get_weather(...)
        if func.attr == "call" and isinstance(func.value, ast.Name):
            return func.value.id
        return func.attr
    raise _BadCallError(f"{ast.unparse(func)!r} is not a tool name")


def _call_nodes(statement: ast.stmt) -> list[ast.Call]:
    if not isinstance(statement, ast.Expr):
        raise _BadCallError(f"expected a function call, got {ast.unparse(statement)!r}")
    value = statement.value
    # [f(a=1), g(b=2)] holds several calls
    items = list(value.elts) if isinstance(value, ast.List | ast.Tuple) else [value]
    out: list[ast.Call] = []
    for item in items:
        if not isinstance(item, ast.Call):
            raise _BadCallError(f"expected a function call, got {ast.unparse(item)!r}")
        inner = item.args[0] if len(item.args) == 1 else None
        if (
            isinstance(item.func, ast.Name)
            and item.func.id == "print"
            and isinstance(inner, ast.Call)
        ):
            out.append(inner)  # print(f(a=1)): the model echoing the call
        else:
            out.append(item)
    return out


def _python_call(node: ast.Call) -> tuple[str, JsonObject]:
    name = _function_name(node.func)
    if node.args:
        raise _BadCallError(
            f"{name}() got positional arguments; write every argument as name=value"
        )
    arguments: JsonObject = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise _BadCallError(f"{name}() got **kwargs; write every argument as name=value")
        arguments[keyword.arg] = _literal(keyword.value)
    return name, arguments


def python_calls(code: str, builder: CallBuilder) -> list[ToolCallPart]:
    """The calls in a block of Python call syntax, one per line or several in a list."""
    source = code.strip()
    if not source:
        return [builder.error("", source, "the tool_code block is empty")]
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        guess = _CALL_GUESS.search(source)
        name = guess.group(1).rsplit(".", 1)[-1] if guess else ""
        return [builder.error(name, source, f"the call is not valid Python syntax: {exc.msg}")]
    parts: list[ToolCallPart] = []
    for statement in tree.body:
        raw = ast.get_source_segment(source, statement) or source
        try:
            nodes = _call_nodes(statement)
        except _BadCallError as exc:
            parts.append(builder.error("", raw, str(exc)))
            continue
        for node in nodes:
            call_raw = ast.get_source_segment(source, node) or raw
            try:
                name, arguments = _python_call(node)
            except _BadCallError as exc:
                guess = _CALL_GUESS.match(call_raw)
                name = guess.group(1).rsplit(".", 1)[-1] if guess else ""
                parts.append(builder.error(name, call_raw, str(exc)))
                continue
            parts.append(builder.call(name, arguments))
    return parts or [builder.error("", code, "the tool_code block holds no call")]
