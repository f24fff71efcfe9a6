"""OpenAI's embeddings API (``POST /embeddings``), both directions, as pure functions.

Outbound (remote backends): :class:`OpenAIEmbed`.
Inbound (the server's ``/v1/embeddings``): :func:`embed_request_from_wire` and
:func:`embed_response_to_wire`, including ``encoding_format="base64"`` (little-endian float32),
which the official SDK asks for by default.
"""

from __future__ import annotations

import base64
import json
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hearth.embeddings import Embeddings, parse_vector
from hearth.errors import InvalidRequestError, ProviderError, UnsupportedFeatureError
from hearth.messages import JsonObject, JsonValue
from hearth.request import EmbedRequest
from hearth.wire.base import EmbedBatch

PATH = "/embeddings"
MAX_BATCH = 2048  # inputs per request the API accepts
EncodingFormat = Literal["float", "base64"]


class OpenAIEmbed:
    """The outbound embeddings codec (:class:`hearth.wire.base.EmbedCodec`)."""

    max_batch = MAX_BATCH

    def path(self, model: str, count: int) -> str:
        return PATH

    def request_to_wire(
        self, texts: Sequence[str], request: EmbedRequest, *, model: str
    ) -> JsonObject:
        if request.truncate:
            raise UnsupportedFeatureError(
                "this embeddings API cannot truncate inputs; shorten them yourself "
                "(truncate=True works for local and Ollama models)"
            )
        body: JsonObject = {"model": model, "input": list(texts), "encoding_format": "float"}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        return body

    def response_from_wire(self, body: JsonObject, *, count: int, provider: str) -> EmbedBatch:
        """The vectors in input order and the prompt tokens counted."""
        data = body.get("data")
        if not isinstance(data, list) or len(data) != count:
            got = len(data) if isinstance(data, list) else "no"
            raise ProviderError(f"{provider} answered {got} embeddings for {count} inputs")
        vectors: list[list[float] | None] = [None] * count
        for position, item in enumerate(data):
            if not isinstance(item, dict):
                raise ProviderError(f"{provider} answered an embedding item that is not an object")
            index = item.get("index", position)
            if not isinstance(index, int) or not 0 <= index < count or vectors[index] is not None:
                raise ProviderError(f"{provider} answered an embedding with a bad index {index!r}")
            vectors[index] = parse_vector(item.get("embedding"), provider)
        usage = body.get("usage")
        tokens = usage.get("prompt_tokens", 0) if isinstance(usage, dict) else 0
        return [v for v in vectors if v is not None], tokens if isinstance(tokens, int) else 0


@dataclass(frozen=True, slots=True)
class EmbedWireRequest:
    """An inbound ``/v1/embeddings`` request."""

    model: str
    texts: list[str]
    dimensions: int | None
    encoding_format: EncodingFormat

    @property
    def request(self) -> EmbedRequest:
        return EmbedRequest(self.texts, dimensions=self.dimensions)


def embed_request_from_wire(body: JsonObject) -> EmbedWireRequest:
    """Check and read an inbound request; :class:`InvalidRequestError` (UnsupportedFeatureError
    for token-id arrays) names the field and says what is wrong."""
    if not isinstance(body, dict):
        raise InvalidRequestError("body: expected a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: required, a string (the embedding model's name)")
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts:
        raise InvalidRequestError("input: expected a string or a non-empty array of strings")
    if not all(isinstance(t, str) for t in texts):
        raise UnsupportedFeatureError(
            "input: only strings are supported, not token-id arrays; send the text"
        )
    if len(texts) > MAX_BATCH:
        raise InvalidRequestError(f"input: at most {MAX_BATCH} texts, got {len(texts)}")
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidRequestError("dimensions: expected a positive integer")
    encoding = body.get("encoding_format", "float")
    known: dict[str, EncodingFormat] = {"float": "float", "base64": "base64"}
    if isinstance(encoding, str) and encoding in known:  # a list or object is not hashable
        return EmbedWireRequest(model, [str(t) for t in texts], dimensions, known[encoding])
    raise InvalidRequestError(
        f"encoding_format: expected float or base64, got {json.dumps(encoding)[:40]}"
    )


def encode_base64(vector: Sequence[float]) -> str:
    """``vector`` as base64 of little-endian float32 values, as OpenAI sends it."""
    values = array("f", vector)
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def embed_response_to_wire(
    embeddings: Embeddings, *, model: str, encoding_format: EncodingFormat = "float"
) -> JsonObject:
    data: list[JsonObject] = []
    for index, vector in enumerate(embeddings.vectors):
        encoded: JsonValue = (
            encode_base64(vector) if encoding_format == "base64" else list[JsonValue](vector)
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = embeddings.usage.input_tokens
    return {
        "object": "list",
        "data": list[JsonValue](data),
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
