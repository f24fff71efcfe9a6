"""Inbound OpenAI Chat Completions requests (for the server): validate, then translate.

Every problem is an :class:`hearth.errors.InvalidRequestError` whose message starts with the
field's path (``messages[2].role: …``), or an :class:`UnsupportedFeatureError` for what the format
has but hearth cannot do (remote image URLs, audio, files, ``logit_bias``,
the legacy ``functions``, web search): a field that would change the answer is refused by name,
never silently dropped.
``response_format`` (json_object / json_schema) becomes ``ChatRequest.response_format``.
A legacy ``/v1/completions`` body becomes a raw-prompt request (``ChatRequest.prompt``).
Fields that only label or route a request (``user``, ``metadata``, ``store``, ``service_tier``)
and unknown fields are ignored, like most OpenAI-compatible servers do.
"""

from __future__ import annotations

from dataclasses import replace

from hearth import json_fields as checks
from hearth.dict_messages import add_message
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import (
    JsonObject,
    JsonValue,
    Message,
)
from hearth.request import ChatRequest, OutputFormat, ToolChoice, ToolSpec
from hearth.settings import GenerationSettings, Setting, wire_fields
from hearth.wire.base import WireRequest
from hearth.wire.openai.logprobs import chat_settings_from_wire, completion_count_from_wire

_EFFORT_THINKING = {"none": False, "minimal": False, "low": True, "medium": True, "high": True}


def request_from_wire(body: JsonObject, *, model: str | None = None) -> WireRequest:
    """A Chat Completions request body → :class:`WireRequest`."""
    if not isinstance(body, dict):
        raise checks.bad("body", "a JSON object", body)
    name = checks.string(body, "model", "", required=model is None) or model or ""
    raw_messages = checks.array(body, "messages", "")
    if not raw_messages:
        raise InvalidRequestError("messages: required, and must hold at least one message")
    _check_unsupported(body)
    tools = tuple(_tool(t, f"tools[{i}]") for i, t in enumerate(
        checks.objects(checks.array(body, "tools", "") or [], "tools")))  # fmt: skip
    stream = checks.boolean(body, "stream")
    logprobs, top_logprobs = chat_settings_from_wire(body)
    request = ChatRequest(
        messages=_messages(checks.objects(raw_messages, "messages")),
        settings=replace(_settings(body), logprobs=logprobs, top_logprobs=top_logprobs),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        response_format=_response_format(body),
    )
    return WireRequest(model=name, request=request, stream=stream is True)


def completion_request_from_wire(body: JsonObject) -> WireRequest:
    """A legacy ``/v1/completions`` body → :class:`WireRequest` holding a raw-prompt request
    (``ChatRequest.prompt``): the model continues the text as it is, with no chat template, as
    OpenAI's completions API and llama.cpp's server do. One prompt (``n`` answers to it), no
    suffix;
    ``logprobs: k`` asks for log-probabilities (``k`` alternatives), and with ``echo`` for the
    prompt's too (``prompt_logprobs``); ``response_format`` (a llama.cpp extension) constrains
    the continuation."""
    if not isinstance(body, dict):
        raise checks.bad("body", "a JSON object", body)
    name = checks.string(body, "model", "", required=True) or ""
    prompt = _completion_prompt(body.get("prompt"))
    _check_unsupported(body)
    best_of = checks.integer(body, "best_of")
    if best_of is not None and best_of != 1:
        raise UnsupportedFeatureError(f"best_of: hearth returns one completion, got {best_of}")
    echo = checks.boolean(body, "echo") is True
    if checks.string(body, "suffix", ""):
        raise UnsupportedFeatureError("suffix is not supported; leave it out")
    stream = checks.boolean(body, "stream")
    if echo_only(body):  # the prompt's logprobs alone: one token is generated, then dropped
        body = {**body, "max_tokens": 1}
    settings = _settings(body)
    if settings.max_tokens is None:  # OpenAI's documented default for this API
        settings = replace(settings, max_tokens=COMPLETION_MAX_TOKENS)
    count = completion_count_from_wire(body)
    if count is not None:
        settings = replace(
            settings, logprobs=True, top_logprobs=count or None, prompt_logprobs=echo or None
        )
    request = ChatRequest(prompt=prompt, settings=settings, response_format=_response_format(body))
    return WireRequest(model=name, request=request, stream=stream is True)


def echo_only(body: JsonObject) -> bool:
    """A legacy completions body that asks for its prompt back and nothing more (``echo`` with
    ``max_tokens: 0``: a loglikelihood request, as evaluation harnesses send)."""
    return body.get("echo") is True and body.get("max_tokens") == 0


COMPLETION_MAX_TOKENS = 16
"""``max_tokens`` of a ``/v1/completions`` body that gives none: OpenAI's documented default
for the legacy API (a base model rarely ends a raw text by itself, so no default would run to
the end of the context window)."""


def _messages(raw: list[JsonObject]) -> tuple[Message, ...]:
    out: list[Message] = []
    for i, item in enumerate(raw):
        add_message(out, item, f"messages[{i}].")
    return tuple(out)


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
        raise checks.bad("prompt", "a string (or an array holding one string)", prompt)
    if not prompt:
        raise InvalidRequestError("prompt: must not be empty; give the text to continue")
    return prompt


def _response_format(body: JsonObject) -> OutputFormat | None:
    """``response_format``: ``text`` → None, ``json_object`` → any JSON object,
    ``json_schema`` → that schema (its ``name`` / ``description`` kept)."""
    fmt = checks.obj(body, "response_format", "")
    if fmt is None:
        return None
    kind = checks.string(fmt, "type", "response_format.", required=True)
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputFormat("json")
    if kind != "json_schema":
        raise InvalidRequestError(
            f"response_format.type: expected text, json_object or json_schema, got {kind!r}"
        )
    spec = checks.obj(fmt, "json_schema", "response_format.")
    if spec is None:
        raise InvalidRequestError("response_format.json_schema: required for type json_schema")
    where = "response_format.json_schema."
    schema = checks.obj(spec, "schema", where)
    if schema is not None:
        from hearth._schema import check_schema

        check_schema(schema, what=f"{where}schema")
    return OutputFormat(
        "json_schema",
        schema=schema if schema is not None else {"type": "object"},
        name=checks.string(spec, "name", where) or "output",
        description=checks.string(spec, "description", where) or "",
    )


_REFUSED: tuple[tuple[str, str], ...] = (
    ("logit_bias", "hearth does not apply per-token logit biases; leave it out"),
    ("functions", "the legacy functions field is not supported; send tools instead"),
    ("function_call", "the legacy function_call field is not supported; send tool_choice"),
    ("audio", "hearth does not produce audio output; leave it out"),
    ("web_search_options", "hearth does not search the web; leave it out"),
)
"""Fields that change what the answer is, so ignoring them would answer a different request.
(Fields that only label or route a request — ``user``, ``metadata``, ``store`` … — are ignored.)"""


def _check_unsupported(body: JsonObject) -> None:
    for key, why in _REFUSED:
        if body.get(key) not in (None, {}, [], 0):
            raise UnsupportedFeatureError(f"{key}: {why}")
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise UnsupportedFeatureError(
            f'modalities: hearth answers with text only, got {modalities!r}; use ["text"]'
        )


def _tool(raw: JsonObject, path: str) -> ToolSpec:
    kind = checks.string(raw, "type", f"{path}.")
    if kind not in (None, "function"):
        raise UnsupportedFeatureError(f"{path}.type: only function tools are supported")
    function = checks.obj(raw, "function", f"{path}.")
    if function is None:
        raise InvalidRequestError(f"{path}.function: required")
    where = f"{path}.function."
    name = checks.string(function, "name", where, required=True) or ""
    parameters = checks.obj(function, "parameters", where)
    return ToolSpec(
        name=name,
        description=checks.string(function, "description", where) or "",
        parameters=parameters if parameters is not None else {"type": "object", "properties": {}},
    )


def _tool_choice(raw: JsonValue) -> ToolChoice:
    if raw is None:
        return "auto"
    if raw in ("auto", "required", "none"):
        return str(raw)
    if isinstance(raw, dict):
        function = checks.obj(raw, "function", "tool_choice.")
        name = checks.string(function or {}, "name", "tool_choice.function.", required=True)
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
        raise checks.bad("stop", "a string or an array of strings", stop)
    effort = checks.string(body, "reasoning_effort", "")
    if effort is not None and effort not in _EFFORT_THINKING:
        raise InvalidRequestError(
            f"reasoning_effort: expected one of {', '.join(_EFFORT_THINKING)}, got {effort!r}"
        )
    values: dict[str, object] = {}
    for setting, key in wire_fields("openai"):
        if setting.kind in (int, float):
            values[setting.name] = _number_field(body, (key, *setting.wire.openai_aliases), setting)
        elif setting.kind is bool:
            values[setting.name] = checks.boolean(body, key)
    thinking = _EFFORT_THINKING[effort] if effort is not None else None
    return GenerationSettings(
        **values,  # type: ignore[arg-type]
        n=checks.integer(body, "n"),
        stop=stops,
        thinking=_template_switch(body, thinking),
        thinking_budget=checks.integer(body, "thinking_budget"),
    )


def _template_switch(body: JsonObject, thinking: bool | None) -> bool | None:
    """``chat_template_kwargs.enable_thinking`` (vLLM's, SGLang's and llama-server's switch),
    over ``reasoning_effort``'s."""
    kwargs = checks.obj(body, "chat_template_kwargs", "")
    if kwargs is None or "enable_thinking" not in kwargs:
        return thinking
    value = kwargs["enable_thinking"]
    if not isinstance(value, bool):
        raise checks.bad("chat_template_kwargs.enable_thinking", "true or false", value)
    return value


def _number_field(body: JsonObject, keys: tuple[str, ...], setting: Setting) -> float | None:
    """The first of ``keys`` (a field and its aliases) the body sets, read as the setting's
    type (an integer setting refuses 1.5)."""
    read = checks.integer if setting.kind is int else checks.number
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
