"""OpenAI's legacy ``/v1/completions`` (raw text completion), outbound: a raw-prompt
:class:`~hearth.request.ChatRequest` (``prompt`` set) → the body, and the ``text_completion``
answer or stream → hearth's Response / events. Pure: no I/O.

Remote backends use this module for a raw request to an OpenAI-compatible endpoint whose API has
the legacy completions route (vLLM, llama-server, LM Studio, ``hearth serve``, and OpenAI itself
for its completion models such as ``gpt-3.5-turbo-instruct``). The server's inbound half of the
same API lives in :func:`hearth.wire.openai.inbound.completion_request_from_wire`.

What maps where:

* ``prompt`` is the raw text, sent as one string (one prompt, one choice).
* settings: as for chat (the settings table's OpenAI column): temperature, top_p,
  presence/frequency penalties, seed, stop and ``max_tokens``
  (this API's name for it); top_k, min_p and repeat_penalty only with
  ``sampler_extensions=True``, the last under ``repeat_penalty_field`` (as for chat).
  ``thinking`` and ``thinking_budget`` are dropped: a raw prompt has no template to switch
  reasoning on or off. Without ``max_tokens`` the server's default applies (16 on OpenAI, vLLM
  and ``hearth serve``).
* ``response_format`` travels as the endpoint's ``output`` option says: ``"response_format"``
  (vLLM, ``hearth serve``: the Chat Completions shape, ``json_schema`` or ``json_object``),
  ``"json_schema"`` (llama-server's ``json_schema`` field: the schema, or ``{"type": "object"}``
  for any JSON object), or None: the API cannot constrain the text (OpenAI's legacy API, LM
  Studio) and the request is refused with UnsupportedFeatureError before it is sent. Grammars
  (gbnf, regex) are refused on every endpoint.
* answers: ``choices[0].text`` → one TextPart; ``finish_reason`` ``length`` → max_tokens,
  ``stop`` → end_turn, or stop_sequence when the server names the stop string (vLLM's
  ``stop_reason``); usage as for chat. Streams: each chunk's ``choices[0].text`` → TextDelta;
  usage arrives in a later chunk (``stream_options.include_usage``), so Done comes from
  :meth:`StreamDecoder.finish`.
* errors: :func:`hearth.wire.openai.errors.error_from_wire`, plus OpenAI's answer for a chat
  model on this route ("This is a chat model and not supported in the v1/completions
  endpoint"), which becomes UnsupportedFeatureError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Literal

from hearth.errors import ConfigurationError, HearthError, ProviderError, UnsupportedFeatureError
from hearth.events import StreamEvent, TextDelta
from hearth.messages import JsonObject, JsonValue, Message, TextPart
from hearth.request import ChatRequest, OutputFormat
from hearth.response import Response
from hearth.wire._output import refuse_grammar
from hearth.wire.openai import errors as openai_errors
from hearth.wire.openai import stream as openai_stream
from hearth.wire.openai.chat import settings_to_wire
from hearth.wire.openai.output import openai_response_format
from hearth.wire.openai.shapes import choice_stop, str_or_none, usage_from_wire

OutputField = Literal["response_format", "json_schema"]
_OUTPUT_FIELDS: tuple[OutputField, ...] = ("response_format", "json_schema")


def output_field(value: JsonValue) -> OutputField | None:
    """The endpoint option ``output`` (where a raw completion's schema goes), checked."""
    for known in _OUTPUT_FIELDS:
        if value == known:
            return known
    if value is None:
        return None
    raise ConfigurationError(
        f"wire option output must be one of {', '.join(_OUTPUT_FIELDS)}, got {value!r}"
    )

_CHAT_MODEL = re.compile(r"not supported in the v1/completions endpoint", re.I)


def request_to_wire(
    request: ChatRequest,
    *,
    model: str,
    stream: bool,
    sampler_extensions: bool = False,
    repeat_penalty_field: str = "repeat_penalty",
    output: OutputField | None = None,
) -> JsonObject:
    """The ``/completions`` body for a raw-prompt ``request``."""
    if request.prompt is None:
        raise ValueError("openai_completions.request_to_wire takes a raw-prompt request")
    body: JsonObject = {"model": model, "prompt": request.prompt}
    if request.response_format is not None:
        body.update(_output_to_wire(request.response_format, output))
    body.update(
        settings_to_wire(request.settings, "max_tokens", sampler_extensions, repeat_penalty_field)
    )
    body.pop("parallel_tool_calls", None)  # a raw completion has no tools
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _output_to_wire(fmt: OutputFormat, output: OutputField | None) -> JsonObject:
    refuse_grammar(fmt, "an OpenAI-compatible completions API")
    if output == "response_format":
        return {"response_format": openai_response_format(fmt)}
    if output == "json_schema":
        schema = fmt.schema if fmt.kind == "json_schema" and fmt.schema is not None else None
        return {"json_schema": schema if schema is not None else {"type": "object"}}
    raise UnsupportedFeatureError(
        "this completions API cannot constrain a raw completion to a JSON schema (OpenAI's "
        "legacy /v1/completions has no response_format); leave response_format out, or use a "
        "local model or a vLLM, llama-server, Ollama or hearth endpoint"
    )


def _first_choice(body: JsonObject) -> JsonObject | None:
    choices = body.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                return choice
    return None


def response_from_wire(body: JsonObject) -> Response:
    """A ``text_completion`` object → Response. Tolerant of unknown fields and values."""
    choice = _first_choice(body)
    if choice is None:
        raise ProviderError(f"the completions response has no choices: {json.dumps(body)[:300]}")
    text = choice.get("text")
    parts = (TextPart(text),) if isinstance(text, str) and text else ()
    reason, sequence = choice_stop(choice, False)
    return Response(
        message=Message("assistant", parts),
        stop_reason=reason,
        usage=usage_from_wire(body.get("usage")),
        stop_sequence=sequence,
        model=str_or_none(body.get("model")),
        response_id=str_or_none(body.get("id")),
    )


class StreamDecoder(openai_stream.StreamDecoder):
    """Streamed ``text_completion`` chunks → hearth events (text, then one Done): the chat
    decoder's framing, usage, errors and end, with ``choices[0].text`` in place of a delta."""

    def _choice(self, choice: JsonObject, events: list[StreamEvent]) -> None:
        text = choice.get("text")
        if isinstance(text, str) and text:
            events.append(TextDelta(text))
        if choice.get("finish_reason") is not None and self._stop is None:
            self._stop, self._stop_sequence = choice_stop(choice, False)


def error_from_wire(
    status: int,
    body: JsonObject | str,
    headers: Mapping[str, str],
    *,
    provider: str = openai_errors.PROVIDER,
) -> HearthError:
    """:func:`hearth.wire.openai.errors.error_from_wire`; OpenAI's "this is a chat model" answer
    on the completions route is an UnsupportedFeatureError saying to send messages."""
    exc = openai_errors.error_from_wire(status, body, headers, provider=provider)
    if status in (400, 404) and _CHAT_MODEL.search(_message(body)):
        return UnsupportedFeatureError(
            f"{provider} answered {status}: the model takes no raw text completion (it is a "
            f"chat model); send messages with chat() instead ({exc})"
        )
    return exc


def _message(body: JsonObject | str) -> str:
    if isinstance(body, str):
        return body
    error: JsonValue = body.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return message if isinstance(message, str) else ""
