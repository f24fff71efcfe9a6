"""Anthropic's token counting, ``POST /v1/messages/count_tokens``. Pure.

The body is the Messages API body of the request (see :mod:`hearth.wire.anthropic.chat`) with
only the fields the counting endpoint takes: ``model``, ``messages``, ``system``, ``tools``,
``tool_choice`` and ``thinking`` (sampling settings and ``max_tokens`` do not change a prompt's
size). The answer is ``{"input_tokens": N}``.
"""

from __future__ import annotations

from dataclasses import replace

from hearth.errors import ProviderError, UnsupportedFeatureError
from hearth.messages import JsonObject
from hearth.request import ChatRequest
from hearth.wire.anthropic.chat import request_to_wire

_COUNTED = ("model", "messages", "system", "tools", "tool_choice", "thinking")


class AnthropicCount:
    def path(self, model: str) -> str:
        return "/v1/messages/count_tokens"

    def request_to_wire(self, request: ChatRequest, *, model: str) -> JsonObject:
        if request.prompt is not None:
            raise UnsupportedFeatureError(
                "Anthropic counts the tokens of messages only; send messages, not a raw prompt"
            )
        plain = replace(request, settings=replace(request.settings, logprobs=None,
                                                  top_logprobs=None, n=None))  # fmt: skip
        body = request_to_wire(plain, model=model, stream=False)
        return {key: body[key] for key in _COUNTED if key in body}

    def response_from_wire(self, body: JsonObject, *, provider: str) -> int:
        count = body.get("input_tokens")
        if isinstance(count, bool) or not isinstance(count, int):
            raise ProviderError(f"{provider}'s count_tokens answer has no input_tokens count")
        return count
