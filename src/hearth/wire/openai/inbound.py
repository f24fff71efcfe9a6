"""Inbound OpenAI Chat Completions requests (for the server): validate, then translate.

Every problem is an :class:`hearth.errors.InvalidRequestError` whose message starts with the
field's path (``messages[2].role: …``), or an :class:`UnsupportedFeatureError` for what the format
has but hearth cannot do (remote image URLs, audio, files, ``n`` > 1, logprobs, ``logit_bias``,
the legacy ``functions``, web search): a field that would change the answer is refused by name,
never silently dropped.
``response_format`` (json_object / json_schema) becomes ``ChatRequest.response_format``.
A legacy ``/v1/completions`` body becomes a raw-prompt request (``ChatRequest.prompt``).
Fields that only label or route a request (``user``, ``metadata``, ``store``, ``service_tier``)
and unknown fields are ignored, like most OpenAI-compatible servers do.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import replace

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import (
    ImagePart,
    JsonObject,
    JsonValue,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest, OutputFormat, ToolChoice, ToolSpec
from hearth.settings import GenerationSettings, Setting, wire_fields
from hearth.wire.base import WireRequest
from hearth.wire.openai.shapes import DETAIL_META, REFUSAL_META

_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?:;[^,;]*)*;base64,(?P<data>.*)$", re.S)
_ROLES = ("system", "developer", "user", "assistant", "tool")
_EFFORT_THINKING = {"none": False, "minimal": False, "low": True, "medium": True, "high": True}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a number",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)  # fmt: skip


def _bad(path: str, expected: str, value: object) -> InvalidRequestError:
    return InvalidRequestError(f"{path}: expected {expected}, got {_type_name(value)}")


def _get(
    obj: JsonObject, key: str, path: str, check: Callable[[object], bool], expected: str
) -> JsonValue:
    value = obj.get(key)
    if value is not None and not check(value):
        raise _bad(f"{path}{key}", expected, value)
    return value


def _str(obj: JsonObject, key: str, path: str, *, required: bool = False) -> str | None:
    value = _get(obj, key, path, lambda v: isinstance(v, str), "a string")
    if required and value is None:
        raise InvalidRequestError(f"{path}{key}: required")
    return value if isinstance(value, str) else None


def _num(obj: JsonObject, key: str, path: str = "") -> float | None:
    value = _get(
        obj, key, path,
        lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number",
    )  # fmt: skip
    return float(value) if isinstance(value, int | float) else None


def _int(obj: JsonObject, key: str, path: str = "") -> int | None:
    value = _get(
        obj, key, path, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
    )
    return value if isinstance(value, int) else None


def _obj(obj: JsonObject, key: str, path: str) -> JsonObject | None:
    value = _get(obj, key, path, lambda v: isinstance(v, dict), "an object")
    return value if isinstance(value, dict) else None


def _list(obj: JsonObject, key: str, path: str) -> list[JsonValue] | None:
    value = _get(obj, key, path, lambda v: isinstance(v, list), "an array")
    return value if isinstance(value, list) else None


def _objects(items: list[JsonValue], path: str) -> list[JsonObject]:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _bad(f"{path}[{i}]", "an object", item)
    return [item for item in items if isinstance(item, dict)]


def request_from_wire(body: JsonObject, *, model: str | None = None) -> WireRequest:
    """A Chat Completions request body → :class:`WireRequest`."""
    if not isinstance(body, dict):
        raise _bad("body", "a JSON object", body)
    name = _str(body, "model", "", required=model is None) or model or ""
    raw_messages = _list(body, "messages", "")
    if not raw_messages:
        raise InvalidRequestError("messages: required, and must hold at least one message")
    _check_unsupported(body)
    tools = tuple(_tool(t, f"tools[{i}]") for i, t in enumerate(
        _objects(_list(body, "tools", "") or [], "tools")))  # fmt: skip
    stream = _get(body, "stream", "", lambda v: isinstance(v, bool), "a boolean")
    request = ChatRequest(
        messages=_messages(_objects(raw_messages, "messages")),
        settings=_settings(body),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        response_format=_response_format(body),
    )
    return WireRequest(model=name, request=request, stream=stream is True)


def completion_request_from_wire(body: JsonObject) -> WireRequest:
    """A legacy ``/v1/completions`` body → :class:`WireRequest` holding a raw-prompt request
    (``ChatRequest.prompt``): the model continues the text as it is, with no chat template, as
    OpenAI's completions API and llama.cpp's server do. One prompt, one choice, no
    echo/suffix; ``response_format`` (a llama.cpp extension) constrains the continuation."""
    if not isinstance(body, dict):
        raise _bad("body", "a JSON object", body)
    name = _str(body, "model", "", required=True) or ""
    prompt = _completion_prompt(body.get("prompt"))
    _check_unsupported(body)
    best_of = _int(body, "best_of")
    if best_of is not None and best_of != 1:
        raise UnsupportedFeatureError(f"best_of: hearth returns one completion, got {best_of}")
    echo = _get(body, "echo", "", lambda v: isinstance(v, bool), "a boolean")
    if echo is True or _str(body, "suffix", ""):
        raise UnsupportedFeatureError("echo and suffix are not supported; leave them out")
    stream = _get(body, "stream", "", lambda v: isinstance(v, bool), "a boolean")
    settings = _settings(body)
    if settings.max_tokens is None:  # OpenAI's documented default for this API
        settings = replace(settings, max_tokens=COMPLETION_MAX_TOKENS)
    request = ChatRequest(prompt=prompt, settings=settings, response_format=_response_format(body))
    return WireRequest(model=name, request=request, stream=stream is True)


COMPLETION_MAX_TOKENS = 16
"""``max_tokens`` of a ``/v1/completions`` body that gives none: OpenAI's documented default
for the legacy API (a base model rarely ends a raw text by itself, so no default would run to
the end of the context window)."""


def _completion_prompt(prompt: JsonValue) -> str:
    """``prompt``: a string, or an array holding one string. Token arrays and several prompts
    (which OpenAI also takes) are refused by name."""
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt) or all(
            isinstance(t, list) for t in prompt
        ):
            raise UnsupportedFeatureError(
                "prompt: token arrays are not supported; send the prompt as text (a string)"
            )
        if all(isinstance(t, str) for t in prompt):
            raise UnsupportedFeatureError(
                f"prompt: hearth completes one prompt per request, got {len(prompt)}; send "
                "one string (one request per prompt)"
            )
    if not isinstance(prompt, str):
        raise _bad("prompt", "a string (or an array holding one string)", prompt)
    if not prompt:
        raise InvalidRequestError("prompt: must not be empty; give the text to continue")
    return prompt


def _response_format(body: JsonObject) -> OutputFormat | None:
    """``response_format``: ``text`` → None, ``json_object`` → any JSON object,
    ``json_schema`` → that schema (its ``name`` / ``description`` kept)."""
    fmt = _obj(body, "response_format", "")
    if fmt is None:
        return None
    kind = _str(fmt, "type", "response_format.", required=True)
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputFormat("json")
    if kind != "json_schema":
        raise InvalidRequestError(
            f"response_format.type: expected text, json_object or json_schema, got {kind!r}"
        )
    spec = _obj(fmt, "json_schema", "response_format.")
    if spec is None:
        raise InvalidRequestError("response_format.json_schema: required for type json_schema")
    where = "response_format.json_schema."
    schema = _obj(spec, "schema", where)
    if schema is not None:
        from hearth._schema import check_schema

        check_schema(schema, what=f"{where}schema")
    return OutputFormat(
        "json_schema",
        schema=schema if schema is not None else {"type": "object"},
        name=_str(spec, "name", where) or "output",
        description=_str(spec, "description", where) or "",
    )


_REFUSED: tuple[tuple[str, str], ...] = (
    ("logit_bias", "hearth does not apply per-token logit biases; leave it out"),
    ("top_logprobs", "hearth does not return log probabilities; leave it out"),
    ("functions", "the legacy functions field is not supported; send tools instead"),
    ("function_call", "the legacy function_call field is not supported; send tool_choice"),
    ("audio", "hearth does not produce audio output; leave it out"),
    ("web_search_options", "hearth does not search the web; leave it out"),
)
"""Fields that change what the answer is, so ignoring them would answer a different request.
(Fields that only label or route a request — ``user``, ``metadata``, ``store`` … — are ignored.)"""


def _check_unsupported(body: JsonObject) -> None:
    n = _int(body, "n")
    if n is not None and n != 1:
        raise UnsupportedFeatureError(f"n: hearth returns one choice per request, got n={n}")
    logprobs = body.get("logprobs")
    if logprobs is not None and logprobs is not False:
        raise UnsupportedFeatureError(
            f"logprobs: hearth does not return log probabilities, got {logprobs!r}; leave it out"
        )
    for key, why in _REFUSED:
        if body.get(key) not in (None, {}, [], 0):
            raise UnsupportedFeatureError(f"{key}: {why}")
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise UnsupportedFeatureError(
            f'modalities: hearth answers with text only, got {modalities!r}; use ["text"]'
        )


def _messages(raw: list[JsonObject]) -> tuple[Message, ...]:
    out: list[Message] = []
    for i, item in enumerate(raw):
        add_message(out, item, f"messages[{i}].")
    return tuple(out)


def add_message(out: list[Message], item: JsonObject, path: str) -> None:
    """Append the Message of one Chat Completions message ``item`` to ``out``; a tool result
    joins the tool message just before it. ``path`` (``messages[2].``) starts every error."""
    role = _str(item, "role", path, required=True)
    if role not in _ROLES:
        raise InvalidRequestError(
            f"{path}role: unknown role {role!r}; expected one of {', '.join(_ROLES)}"
        )
    if role == "tool":
        result = _tool_result(item, path)
        if out and out[-1].role == "tool":
            out[-1] = Message("tool", (*out[-1].parts, result))
        else:
            out.append(Message("tool", (result,)))
    elif role == "assistant":
        out.append(Message("assistant", _assistant(item, path)))
    elif role == "user":
        out.append(Message("user", _content(item, path, images=True)))
    else:
        out.append(Message("system", (TextPart(_text_only(item, path)),)))


def _content(item: JsonObject, path: str, *, images: bool) -> tuple[Part, ...]:
    content = item.get("content")
    if isinstance(content, str):
        return (TextPart(content),)
    if not isinstance(content, list):
        raise _bad(f"{path}content", "a string or an array of content parts", content)
    parts: list[Part] = []
    for j, part in enumerate(_objects(content, f"{path}content")):
        where = f"{path}content[{j}]."
        kind = _str(part, "type", where, required=True)
        if kind == "text":
            parts.append(TextPart(_str(part, "text", where, required=True) or ""))
        elif kind == "image_url" and images:
            parts.append(_image(part, where))
        elif kind in ("image_url", "input_audio", "file"):
            raise UnsupportedFeatureError(
                f"{where}type: {kind} content is not supported in this message"
            )
        else:
            raise InvalidRequestError(f"{where}type: unknown content part type {kind!r}")
    return tuple(parts)


def _text_only(item: JsonObject, path: str) -> str:
    return "".join(p.text for p in _content(item, path, images=False) if isinstance(p, TextPart))


def _image(part: JsonObject, where: str) -> ImagePart:
    spec = _obj(part, "image_url", where)
    if spec is None:
        raise InvalidRequestError(f"{where}image_url: required")
    url = _str(spec, "url", f"{where}image_url.", required=True) or ""
    if url.startswith(("http://", "https://")):
        raise UnsupportedFeatureError(
            f"{where}image_url.url: hearth does not fetch image URLs; send the image inline "
            "as a data: URL (data:image/png;base64,…)"
        )
    found = _DATA_URL.match(url)
    if not found:
        raise InvalidRequestError(f"{where}image_url.url: expected a data:image/…;base64,… URL")
    try:
        data = base64.b64decode(found["data"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(f"{where}image_url.url: the base64 data is malformed") from None
    detail = _str(spec, "detail", f"{where}image_url.")
    try:
        return ImagePart(data, found["type"], meta={DETAIL_META: detail} if detail else None)
    except InvalidRequestError as exc:
        raise InvalidRequestError(f"{where}image_url.url: {exc}") from None


def _assistant(item: JsonObject, path: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    reasoning = _str(item, "reasoning_content", path)
    if reasoning:
        parts.append(ThinkingPart(reasoning))
    content = item.get("content")
    if content is not None:
        for part in _content(item, path, images=False):
            if not (isinstance(part, TextPart) and not part.text):
                parts.append(part)
    refusal = _str(item, "refusal", path)
    if refusal:
        parts.append(TextPart(refusal, meta={REFUSAL_META: True}))
    calls = _list(item, "tool_calls", path) or []
    for j, call in enumerate(_objects(calls, f"{path}tool_calls")):
        parts.append(_tool_call(call, f"{path}tool_calls[{j}]."))
    return tuple(parts)


def _tool_call(call: JsonObject, path: str) -> ToolCallPart:
    call_id = _str(call, "id", path, required=True) or ""
    kind = _str(call, "type", path)
    if kind not in (None, "function"):
        raise UnsupportedFeatureError(f"{path}type: only function tool calls are supported")
    function = _obj(call, "function", path)
    if function is None:
        raise InvalidRequestError(f"{path}function: required")
    name = _str(function, "name", f"{path}function.", required=True) or ""
    arguments = _str(function, "arguments", f"{path}function.")
    return ToolCallPart(call_id, name, "{}" if arguments is None else arguments)


def _tool_result(item: JsonObject, path: str) -> ToolResultPart:
    call_id = _str(item, "tool_call_id", path, required=True) or ""
    return ToolResultPart(call_id, _text_only(item, path))


def _tool(raw: JsonObject, path: str) -> ToolSpec:
    kind = _str(raw, "type", f"{path}.")
    if kind not in (None, "function"):
        raise UnsupportedFeatureError(f"{path}.type: only function tools are supported")
    function = _obj(raw, "function", f"{path}.")
    if function is None:
        raise InvalidRequestError(f"{path}.function: required")
    where = f"{path}.function."
    name = _str(function, "name", where, required=True) or ""
    parameters = _obj(function, "parameters", where)
    return ToolSpec(
        name=name,
        description=_str(function, "description", where) or "",
        parameters=parameters if parameters is not None else {"type": "object", "properties": {}},
    )


def _tool_choice(raw: JsonValue) -> ToolChoice:
    if raw is None:
        return "auto"
    if raw in ("auto", "required", "none"):
        return str(raw)
    if isinstance(raw, dict):
        function = _obj(raw, "function", "tool_choice.")
        name = _str(function or {}, "name", "tool_choice.function.", required=True)
        if name:
            return name
    raise InvalidRequestError(
        "tool_choice: expected auto, required, none or "
        '{"type": "function", "function": {"name": …}}'
    )


def _settings(body: JsonObject) -> GenerationSettings:
    stop = body.get("stop")
    if isinstance(stop, str):
        stops: tuple[str, ...] = (stop,)
    elif stop is None:
        stops = ()
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        stops = tuple(s for s in stop if isinstance(s, str))
    else:
        raise _bad("stop", "a string or an array of strings", stop)
    effort = _str(body, "reasoning_effort", "")
    if effort is not None and effort not in _EFFORT_THINKING:
        raise InvalidRequestError(
            f"reasoning_effort: expected one of {', '.join(_EFFORT_THINKING)}, got {effort!r}"
        )
    values: dict[str, object] = {}
    for setting, key in wire_fields("openai"):
        if setting.kind in (int, float):
            values[setting.name] = _number_field(body, (key, *setting.wire.openai_aliases), setting)
    return GenerationSettings(
        **values,  # type: ignore[arg-type]
        stop=stops,
        thinking=_EFFORT_THINKING[effort] if effort is not None else None,
    )


def _number_field(body: JsonObject, keys: tuple[str, ...], setting: Setting) -> float | None:
    """The first of ``keys`` (a field and its aliases) the body sets, read as the setting's
    type (an integer setting refuses 1.5)."""
    read = _int if setting.kind is int else _num
    for key in keys:
        value = read(body, key)
        if value is not None:
            return value
    return None


def include_usage(body: JsonObject) -> bool:
    """``stream_options.include_usage``: whether a streamed answer ends with a usage chunk."""
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise InvalidRequestError("stream_options: expected an object")
    flag = options.get("include_usage", False)
    if not isinstance(flag, bool):
        raise InvalidRequestError("stream_options.include_usage: expected a boolean")
    return flag
