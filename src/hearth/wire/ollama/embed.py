"""Ollama's embeddings API (``POST /api/embed``): outbound (:class:`OllamaEmbed`), and inbound
for ``hearth serve`` with the legacy ``/api/embeddings`` (:func:`embed_request_from_wire`,
:func:`embeddings_request_from_wire`).

Ollama truncates long inputs unless told not to; hearth sends ``truncate: false`` unless the
caller asked for truncation, so an input longer than the model's context is an error, as it is
for every other backend. Inbound, the server follows Ollama: ``truncate`` defaults to true.
``options`` and ``keep_alive`` are accepted (``keep_alive`` is checked) and change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from hearth.embeddings import Embeddings, parse_vector
from hearth.errors import InvalidRequestError, ProviderError
from hearth.messages import JsonObject, JsonValue
from hearth.request import EmbedRequest
from hearth.wire.base import EmbedBatch
from hearth.wire.ollama.chat import STRICT
from hearth.wire.ollama.request_fields import invalid, keep_alive_is_zero

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


# ---------------------------------------------------------------------------------------------
# Inbound (for ``hearth serve``): /api/embed and the legacy /api/embeddings


@dataclass(frozen=True, slots=True)
class EmbedWireRequest:
    """An inbound ``/api/embed`` request: the model, and the checked EmbedRequest."""

    model: str
    request: EmbedRequest


class _WireEmbed(BaseModel):
    model_config = STRICT
    model: str | None = None
    input: str | list[str] | None = None
    truncate: bool | None = None
    dimensions: int | None = None
    options: dict[str, Any] | None = None
    keep_alive: Any = None


class _WireEmbeddings(BaseModel):
    model_config = STRICT
    model: str | None = None
    prompt: str | None = None
    options: dict[str, Any] | None = None
    keep_alive: Any = None


def embed_request_from_wire(body: JsonObject) -> EmbedWireRequest:
    """An ``/api/embed`` body: ``input`` one string or a non-empty list; ``truncate`` (Ollama's
    default: true) cuts an input longer than the model's window instead of refusing it;
    ``dimensions`` keeps the first N values. Vectors are normalised, as Ollama's are."""
    try:
        wire = _WireEmbed.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None
    model = _model(wire.model)
    keep_alive_is_zero(wire.keep_alive)
    if wire.input is None or wire.input == []:
        raise InvalidRequestError("input: required, a string or a non-empty list of strings")
    truncate = True if wire.truncate is None else wire.truncate
    request = EmbedRequest(wire.input, dimensions=wire.dimensions, truncate=truncate)
    return EmbedWireRequest(model, request)


def embeddings_request_from_wire(body: JsonObject) -> tuple[str, EmbedRequest | None]:
    """A legacy ``/api/embeddings`` body: the model, and one ``prompt``, embedded whole
    (truncated to the window) and not normalised, as Ollama's legacy route does; None for an
    empty prompt, which gets an empty vector."""
    try:
        wire = _WireEmbeddings.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None
    model = _model(wire.model)
    keep_alive_is_zero(wire.keep_alive)
    if not wire.prompt:
        return model, None
    return model, EmbedRequest(wire.prompt, normalize=False, truncate=True)


def _model(name: str | None) -> str:
    if not name:
        raise InvalidRequestError("model: required; name the embedding model")
    return name


def embed_response_to_wire(
    result: Embeddings, *, model: str, total_duration: int | None = None
) -> JsonObject:
    """The ``/api/embed`` answer: the vectors in input order and the tokens embedded."""
    vectors: list[JsonValue] = [list(v) for v in result.vectors]
    body: JsonObject = {"model": model, "embeddings": vectors}
    if total_duration is not None:
        body["total_duration"] = total_duration
        body["load_duration"] = 0
    body["prompt_eval_count"] = result.usage.input_tokens
    return body


def embeddings_response_to_wire(result: Embeddings | None) -> JsonObject:
    """The legacy ``/api/embeddings`` answer: ``{"embedding": [...]}``."""
    vector: list[JsonValue] = list(result.vectors[0]) if result is not None else []
    return {"embedding": vector}
