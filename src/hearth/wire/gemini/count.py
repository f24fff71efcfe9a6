"""Gemini's token counting, ``POST /v1beta/models/{model}:countTokens``. Pure.

The body holds the whole ``generateContent`` request (``generateContentRequest``: contents,
system instruction, tools and config, with the model named), so the count is the prompt the
model would read. The answer is ``{"totalTokens": N, …}``.
"""

from __future__ import annotations

from dataclasses import replace

from hearth.errors import ProviderError, UnsupportedFeatureError
from hearth.messages import JsonObject
from hearth.request import ChatRequest
from hearth.wire.gemini.chat import request_to_wire


class GeminiCount:
    def path(self, model: str) -> str:
        return "/v1beta/models/{model}:countTokens"

    def request_to_wire(self, request: ChatRequest, *, model: str) -> JsonObject:
        if request.prompt is not None:
            raise UnsupportedFeatureError(
                "Gemini counts the tokens of contents only; send messages, not a raw prompt"
            )
        plain = replace(request, settings=replace(request.settings, logprobs=None,
                                                  top_logprobs=None, n=None))  # fmt: skip
        body = request_to_wire(plain, model=model, stream=False)
        name = model if model.startswith("models/") else f"models/{model}"
        return {"generateContentRequest": {"model": name, **body}}

    def response_from_wire(self, body: JsonObject, *, provider: str) -> int:
        count = body.get("totalTokens")
        if isinstance(count, bool) or not isinstance(count, int):
            raise ProviderError(f"{provider}'s countTokens answer has no totalTokens count")
        return count
