"""Gemini's embeddings API, outbound, as pure functions.

One input goes to ``models/{model}:embedContent``, several to ``:batchEmbedContents`` (at most
:data:`MAX_BATCH` per request). hearth's ``task`` becomes ``taskType`` and ``dimensions``
becomes ``outputDimensionality``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hearth.embeddings import Task, parse_vector
from hearth.errors import ProviderError
from hearth.messages import JsonObject, JsonValue

MAX_BATCH = 100
TASK_TYPES: Mapping[Task, str] = {
    "query": "RETRIEVAL_QUERY",
    "document": "RETRIEVAL_DOCUMENT",
    "similarity": "SEMANTIC_SIMILARITY",
    "classification": "CLASSIFICATION",
    "clustering": "CLUSTERING",
    "question_answering": "QUESTION_ANSWERING",
    "fact_verification": "FACT_VERIFICATION",
    "code_query": "CODE_RETRIEVAL_QUERY",
}


def _name(model: str) -> str:
    return model.removeprefix("models/")


def embed_path(model: str, count: int) -> str:
    verb = "embedContent" if count == 1 else "batchEmbedContents"
    return f"/v1beta/models/{{model}}:{verb}"


def _content(text: str, model: str, task: Task | None, dimensions: int | None) -> JsonObject:
    item: JsonObject = {"model": f"models/{_name(model)}", "content": {"parts": [{"text": text}]}}
    if task is not None:
        item["taskType"] = TASK_TYPES[task]
    if dimensions is not None:
        item["outputDimensionality"] = dimensions
    return item


def embed_request_to_wire(
    texts: Sequence[str],
    *,
    model: str,
    dimensions: int | None = None,
    task: Task | None = None,
) -> JsonObject:
    """The body for :func:`embed_path` (``embedContent`` for one text, else batch)."""
    items = [_content(text, model, task, dimensions) for text in texts]
    if len(items) == 1:
        return items[0]
    requests: list[JsonValue] = list(items)
    return {"requests": requests}


def embed_response_from_wire(
    body: JsonObject, *, count: int, provider: str = "gemini"
) -> tuple[list[list[float]], int]:
    """The vectors in input order; Gemini reports no token count (0)."""
    if count == 1:
        single = body.get("embedding")
        found: list[JsonValue] = [single] if single is not None else []
    else:
        many = body.get("embeddings")
        found = many if isinstance(many, list) else []
    if len(found) != count:
        raise ProviderError(f"{provider} answered {len(found)} embeddings for {count} inputs")
    vectors = []
    for item in found:
        if not isinstance(item, dict):
            raise ProviderError(f"{provider} answered an embedding that is not an object")
        vectors.append(parse_vector(item.get("values"), provider))
    return vectors, 0
