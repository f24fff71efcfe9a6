"""Responses requests, both directions. Pure.

Inbound (``hearth serve``): :func:`parse` reads a ``POST /v1/responses`` body into a
:class:`ResponsesCall`: the input as messages, the settings, tools and ``text.format``, the
state fields (``store``, ``previous_response_id``, ``background``) and the fields a Response
object echoes back. Honoured: ``input`` (a string or items, see
:mod:`hearth.wire.responses.items`), ``instructions`` (a leading system message that is not
carried to the next response of a chain, as on OpenAI), function ``tools``, ``tool_choice``,
``parallel_tool_calls``, ``text.format``, ``max_output_tokens``, ``temperature``, ``top_p``,
``reasoning.effort`` (``none``/``minimal`` → no thinking, else thinking), ``metadata``,
``user``, ``include`` (``reasoning.encrypted_content``, ``message.input_image.image_url``,
``message.output_text.logprobs`` with ``top_logprobs``: the settings ``logprobs`` /
``top_logprobs``),
``truncation: disabled``. Fields that would change the answer but that hearth cannot honour
are refused by name with what to do (:data:`REFUSED`, built-in tools, other ``include``
values, ``truncation: auto``); fields that only label or route a request (``service_tier``,
``prompt_cache_key``, ``safety_identifier``, ``stream_options`` …) and unknown fields are
ignored.

Outbound (remote backends): :func:`request_to_wire`. The conversation goes as input items,
system messages as ``system`` items (so they may sit anywhere), with ``store: false`` and
``include: ["reasoning.encrypted_content"]`` by default: hearth sends the whole conversation
each turn, so the provider need keep nothing, and reasoning comes back encrypted to be sent
back. Dropped outbound, because the API has no place for them: ``stop``, ``seed``, the
penalties, ``top_k``, ``min_p``, ``repeat_penalty``, ``thinking`` and ``thinking_budget``,
ToolResultPart ``is_error``, and ThinkingParts that are not this API's reasoning items.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from hearth import json_fields as checks
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.logprobs import MAX_TOP_LOGPROBS
from hearth.messages import JsonObject, JsonValue, Message, TextPart
from hearth.request import ChatRequest, OutputFormat, ToolChoice, ToolSpec
from hearth.settings import GenerationSettings
from hearth.wire.responses.items import InputReader, check_results, messages_to_items
from hearth.wire.responses.output import format_from_wire, format_to_wire

REFUSED: tuple[tuple[str, str], ...] = (
    ("prompt", "hearth has no stored prompt templates; send instructions and input instead"),
    ("conversation", "hearth keeps state with previous_response_id; chain responses with that"),
    ("context_management", "hearth does not compact a conversation by itself; send what fits"),
    ("max_tool_calls", "hearth does not cap tool calls; leave it out"),
    ("moderation", "hearth does not run moderation; leave it out"),
    ("background_options", "hearth runs a background response at once; leave it out"),
)
"""Top-level fields that change the answer and that hearth cannot honour."""

INCLUDABLE = (
    "reasoning.encrypted_content",
    "message.input_image.image_url",
    "message.output_text.logprobs",
)
LOGPROBS_INCLUDE = "message.output_text.logprobs"
_INCLUDE_WHY = {
    "file_search_call.results": "hearth does not run file_search",
    "web_search_call.results": "hearth does not run web_search",
    "web_search_call.action.sources": "hearth does not run web_search",
    "code_interpreter_call.outputs": "hearth does not run code_interpreter",
    "computer_call_output.output.image_url": "hearth does not run computer use",
}
EFFORT_THINKING = {"none": False, "minimal": False, "low": True, "medium": True, "high": True,
                   "xhigh": True}  # fmt: skip
ID_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco",
             "reasoning": "rs"}  # fmt: skip


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class ResponsesCall:
    """One parsed ``POST /v1/responses`` body."""

    model: str
    input: tuple[Message, ...]
    settings: GenerationSettings
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    response_format: OutputFormat | None = None
    instructions: str | None = None
    stream: bool = False
    store: bool = True
    background: bool = False
    previous_response_id: str | None = None
    parallel_tool_calls: bool = True
    results: tuple[tuple[str, str], ...] = ()
    input_items: tuple[JsonObject, ...] = ()
    echo: JsonObject = field(default_factory=dict)

    def chat_request(self, history: tuple[Message, ...] = ()) -> ChatRequest:
        """The ChatRequest for this call after ``history`` (a stored chain, without its
        instructions); every tool result must answer a call in the history or the input."""
        conversation = (*history, *self.input)
        check_results(conversation, list(self.results))
        head = (Message("system", (TextPart(self.instructions),)),) if self.instructions else ()
        return ChatRequest(
            messages=(*head, *conversation),
            settings=self.settings,
            tools=self.tools,
            tool_choice=self.tool_choice,
            response_format=self.response_format,
        )


def parse(body: JsonObject) -> ResponsesCall:
    """A ``POST /v1/responses`` body → :class:`ResponsesCall` (see the module docstring)."""
    if not isinstance(body, dict):
        raise checks.bad("body", "a JSON object", body)
    model = checks.string(body, "model", required=True) or ""
    _refuse(body)
    reader = InputReader()
    items = _input_items(body, reader)
    tools = _tools(body)
    tool_choice = _tool_choice(body.get("tool_choice"))
    stream = checks.boolean(body, "stream") is True
    store = checks.boolean(body, "store")
    background = checks.boolean(body, "background") is True
    parallel = checks.boolean(body, "parallel_tool_calls")
    previous = checks.string(body, "previous_response_id")
    if previous is not None and not previous.strip():
        raise InvalidRequestError("previous_response_id: must not be empty")
    instructions = checks.string(body, "instructions")
    settings = replace(_settings(body), parallel_tool_calls=parallel)
    call = ResponsesCall(
        model=model,
        input=tuple(reader.messages),
        settings=settings,
        tools=tuple(tools),
        tool_choice=tool_choice,
        response_format=format_from_wire(body),
        instructions=instructions or None,
        stream=stream,
        store=store is not False,
        background=background,
        previous_response_id=previous,
        parallel_tool_calls=parallel is not False,
        results=tuple(reader.results),
        input_items=tuple(items),
    )
    if not call.input and previous is None:
        raise InvalidRequestError("input: required, and must hold at least one item")
    return _with_echo(call, body)


def _refuse(body: JsonObject) -> None:
    for key, why in REFUSED:
        if body.get(key) not in (None, {}, []):
            raise UnsupportedFeatureError(f"{key}: {why}")
    truncation = checks.string(body, "truncation")
    if truncation not in (None, "disabled"):
        raise UnsupportedFeatureError(
            f"truncation: hearth never drops input to make it fit (got {truncation!r}); leave "
            "it out or set it to disabled, and send a conversation that fits the context window"
        )
    for i, value in enumerate(checks.array(body, "include") or []):
        if not isinstance(value, str):
            raise checks.bad(f"include[{i}]", "a string", value)
        if value in INCLUDABLE:
            continue
        if value not in _INCLUDE_WHY:
            raise InvalidRequestError(f"include[{i}]: unknown value {value!r}")
        raise UnsupportedFeatureError(f"include[{i}]: {_INCLUDE_WHY[value]}; leave {value!r} out")


def _input_items(body: JsonObject, reader: InputReader) -> list[JsonObject]:
    """Reads ``input`` into ``reader``; returns the items as ``input_items`` lists them."""
    raw = body.get("input")
    if raw is None:
        return []
    if isinstance(raw, str):
        reader.messages.append(Message.user(raw))
        return [_listed({"type": "message", "role": "user", "content": raw})]
    if not isinstance(raw, list):
        raise checks.bad("input", "a string or an array of items", raw)
    items = checks.objects(raw, "input")
    reader.read(items, "input")
    return [_listed(item) for item in items]


def _listed(item: JsonObject) -> JsonObject:
    """An input item as ``GET /v1/responses/{id}/input_items`` shows it: with an id and a
    type, and a message's text content as a list of parts."""
    kind = item.get("type") or "message"
    out: JsonObject = {"id": item.get("id") or new_id(ID_PREFIX.get(str(kind), "item"))}
    out.update(item)
    out["type"] = kind
    content = item.get("content")
    if kind == "message" and isinstance(content, str):
        part = "output_text" if item.get("role") == "assistant" else "input_text"
        out["content"] = [{"type": part, "text": content}]
    if kind == "message":
        out.setdefault("status", "completed")
    return out


def _tools(body: JsonObject) -> list[ToolSpec]:
    tools: list[ToolSpec] = []
    for i, tool in enumerate(checks.objects(checks.array(body, "tools") or [], "tools")):
        where = f"tools[{i}]."
        kind = checks.string(tool, "type", where, required=True)
        if kind != "function":
            raise UnsupportedFeatureError(
                f"{where}type: {kind!r} is one of OpenAI's built-in tools, which hearth does not "
                "run; remove it, or describe a function tool that your code runs"
            )
        name = checks.string(tool, "name", where, required=True) or ""
        parameters = checks.obj(tool, "parameters", where)
        checks.boolean(tool, "strict", where)
        tools.append(
            ToolSpec(
                name=name,
                description=checks.string(tool, "description", where) or "",
                parameters=parameters if parameters is not None else {"type": "object",
                                                                      "properties": {}},
            )
        )  # fmt: skip
    return tools


def _tool_choice(raw: JsonValue) -> ToolChoice:
    if raw is None:
        return "auto"
    if raw in ("auto", "required", "none"):
        return str(raw)
    if isinstance(raw, dict):
        kind = checks.string(raw, "type", "tool_choice.", required=True)
        if kind == "function":
            return checks.string(raw, "name", "tool_choice.", required=True) or ""
        if kind == "allowed_tools":
            raise UnsupportedFeatureError(
                "tool_choice: allowed_tools is not supported; send only the tools the model may "
                "call, with tool_choice auto or required"
            )
        raise UnsupportedFeatureError(
            f"tool_choice: {kind!r} names a built-in tool, which hearth does not run; use auto, "
            'required, none or {"type": "function", "name": …}'
        )
    raise InvalidRequestError(
        'tool_choice: expected auto, required, none or {"type": "function", "name": …}'
    )


def _settings(body: JsonObject) -> GenerationSettings:
    reasoning = checks.obj(body, "reasoning")
    thinking: bool | None = None
    if reasoning is not None:
        effort = checks.string(reasoning, "effort", "reasoning.")
        if effort is not None and effort not in EFFORT_THINKING:
            raise InvalidRequestError(
                f"reasoning.effort: expected one of {', '.join(EFFORT_THINKING)}, got {effort!r}"
            )
        if reasoning.get("summary") is not None or reasoning.get("generate_summary") is not None:
            raise UnsupportedFeatureError(
                "reasoning.summary: hearth returns a model's reasoning as reasoning_text, not "
                "as a summary; leave summary out"
            )
        thinking = EFFORT_THINKING[effort] if effort is not None else None
    top_logprobs = checks.integer(body, "top_logprobs")
    if top_logprobs is not None and not 0 <= top_logprobs <= MAX_TOP_LOGPROBS:
        raise InvalidRequestError(
            f"top_logprobs: must be between 0 and {MAX_TOP_LOGPROBS}, got {top_logprobs}"
        )
    included = LOGPROBS_INCLUDE in (checks.array(body, "include") or [])
    return GenerationSettings(
        temperature=checks.number(body, "temperature"),
        top_p=checks.number(body, "top_p"),
        max_tokens=checks.integer(body, "max_output_tokens"),
        thinking=thinking,
        logprobs=True if included or top_logprobs else None,
        top_logprobs=top_logprobs or None,
    )


def _metadata(body: JsonObject) -> JsonObject | None:
    metadata = checks.obj(body, "metadata")
    if metadata is None:
        return None
    if len(metadata) > 16:
        raise InvalidRequestError(f"metadata: at most 16 keys, got {len(metadata)}")
    for key, value in metadata.items():
        if len(key) > 64:
            raise InvalidRequestError(f"metadata: key {key[:20]!r}… is over 64 characters")
        if not isinstance(value, str) or len(value) > 512:
            raise InvalidRequestError(f"metadata.{key}: expected a string of at most 512 chars")
    return metadata


def _with_echo(call: ResponsesCall, body: JsonObject) -> ResponsesCall:
    """``call`` with the fields a Response object echoes, as the client sent them."""
    text = body.get("text") if isinstance(body.get("text"), dict) else None
    tool_choice = body.get("tool_choice")
    tools = body.get("tools")
    echo: JsonObject = {
        "background": call.background,
        "instructions": call.instructions,
        "max_output_tokens": call.settings.max_tokens,
        "metadata": _metadata(body) or {},
        "parallel_tool_calls": call.parallel_tool_calls,
        "previous_response_id": call.previous_response_id,
        "reasoning": body.get("reasoning") if isinstance(body.get("reasoning"), dict) else None,
        "store": call.store,
        "temperature": call.settings.temperature,
        "text": text or {"format": {"type": "text"}},
        "tool_choice": tool_choice if tool_choice is not None else "auto",
        "tools": tools if isinstance(tools, list) else [],
        "top_p": call.settings.top_p,
        "truncation": "disabled",
        "user": checks.string(body, "user"),
    }
    return replace(call, echo=echo)


def default_echo() -> JsonObject:
    """The echoed fields of a request that set none of them."""
    return _with_echo(
        ResponsesCall(model="", input=(), settings=GenerationSettings()), {}
    ).echo


# ---------------------------------------------------------------------------------------------
# outbound


def request_to_wire(
    request: ChatRequest, *, model: str, stream: bool, store: bool = False
) -> JsonObject:
    """The ``POST /responses`` body for ``request``."""
    body: JsonObject = {"model": model, "input": messages_to_items(request.messages)}
    if request.tools:
        body["tools"] = [_tool_to_wire(t) for t in request.tools]
    if request.tool_choice != "auto":
        choice = request.tool_choice
        body["tool_choice"] = (
            choice if choice in ("required", "none") else {"type": "function", "name": choice}
        )
    if request.response_format is not None:
        body["text"] = {"format": format_to_wire(request.response_format)}
    s = request.settings
    for key, value in (
        ("max_output_tokens", s.max_tokens), ("temperature", s.temperature), ("top_p", s.top_p),
    ):  # fmt: skip
        if value is not None:
            body[key] = value
    body["store"] = store
    include: list[JsonValue] = [] if store else ["reasoning.encrypted_content"]
    if s.prompt_logprobs:
        raise UnsupportedFeatureError(
            "prompt_logprobs: the Responses API returns no log-probabilities for the prompt; "
            "leave it out"
        )
    if s.wants_logprobs:
        include.append(LOGPROBS_INCLUDE)
        if s.top_logprobs:
            body["top_logprobs"] = s.top_logprobs
    if include:
        body["include"] = include
    if stream:
        body["stream"] = True
    return body


def _tool_to_wire(tool: ToolSpec) -> JsonObject:
    from hearth.wire.openai.output import strict_compatible

    out: JsonObject = {"type": "function", "name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["parameters"] = tool.parameters
    out["strict"] = strict_compatible(tool.parameters)
    return out
