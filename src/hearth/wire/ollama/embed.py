"""Ollama's embeddings API (``POST /api/embed``), outbound (:class:`OllamaEmbed`).

Ollama truncates long inputs unless told not to; hearth sends ``truncate: false`` unless the
caller asked for truncation, so an input longer than the model's context is an error, as it is
for every other backend.
"""

from __future__ import annotations

from collections.abc import Sequence

from hearth.embeddings import parse_vector
from hearth.errors import ProviderError
from hearth.messages import JsonObject, JsonValue
from hearth.request import EmbedRequest
from hearth.wire.base import EmbedBatch

PATH = "/api/embed"
MAX_BATCH = 512


class OllamaEmbed:
    """The outbound embeddings codec (:class:`hearth.wire.base.EmbedCodec`)."""

    max_batch = MAX_BATCH

    def path(self, model: str, count: int) -> str:
        return PATH

    def request_to_wire(
        self, texts: Sequence[str], request: EmbedRequest, *, model: str
    ) -> JsonObject:
        inputs: list[JsonValue] = list(texts)
        body: JsonObject = {"model": model, "input": inputs, "truncate": request.truncate}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        return body

    def response_from_wire(self, body: JsonObject, *, count: int, provider: str) -> EmbedBatch:
        """The vectors in input order and ``prompt_eval_count`` (0 when absent)."""
        found = body.get("embeddings")
        if not isinstance(found, list) or len(found) != count:
            got = len(found) if isinstance(found, list) else "no"
            raise ProviderError(f"{provider} answered {got} embeddings for {count} inputs")
        tokens = body.get("prompt_eval_count", 0)
        return [parse_vector(v, provider) for v in found], tokens if isinstance(tokens, int) else 0
