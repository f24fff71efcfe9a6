"""Ollama's embeddings API (``POST /api/embed``), outbound, as pure functions.

Ollama truncates long inputs unless told not to; hearth sends ``truncate: false`` unless the
caller asked for truncation, so an input longer than the model's context is an error, as it is
for every other backend.
"""

from __future__ import annotations

from collections.abc import Sequence

from hearth.embeddings import parse_vector
from hearth.errors import ProviderError
from hearth.messages import JsonObject, JsonValue

PATH = "/api/embed"
MAX_BATCH = 512


def embed_path(model: str, count: int) -> str:
    return PATH


def embed_request_to_wire(
    texts: Sequence[str],
    *,
    model: str,
    dimensions: int | None = None,
    truncate: bool = False,
) -> JsonObject:
    inputs: list[JsonValue] = list(texts)
    body: JsonObject = {"model": model, "input": inputs, "truncate": truncate}
    if dimensions is not None:
        body["dimensions"] = dimensions
    return body


def embed_response_from_wire(
    body: JsonObject, *, count: int, provider: str = "ollama"
) -> tuple[list[list[float]], int]:
    """The vectors in input order and ``prompt_eval_count`` (0 when absent)."""
    found = body.get("embeddings")
    if not isinstance(found, list) or len(found) != count:
        got = len(found) if isinstance(found, list) else "no"
        raise ProviderError(f"{provider} answered {got} embeddings for {count} inputs")
    tokens = body.get("prompt_eval_count", 0)
    return [parse_vector(v, provider) for v in found], tokens if isinstance(tokens, int) else 0
