"""Gemini's embeddings API, outbound (:class:`GeminiEmbed`).

One input goes to ``models/{model}:embedContent``, several to ``:batchEmbedContents`` (at most
:data:`MAX_BATCH` per request). hearth's ``task`` becomes ``taskType`` and ``dimensions``
becomes ``outputDimensionality``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hearth.embeddings import Task, parse_vector
from hearth.errors import ProviderError
from hearth.messages import JsonObject, JsonValue
from hearth.request import EmbedRequest
from hearth.wire.base import EmbedBatch

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


def _content(text: str, model: str, task: Task | None, dimensions: int | None) -> JsonObject:
    item: JsonObject = {"model": f"models/{_name(model)}", "content": {"parts": [{"text": text}]}}
    if task is not None and task in TASK_TYPES:  # "other": Gemini's unspecified task
        item["taskType"] = TASK_TYPES[task]
    if dimensions is not None:
        item["outputDimensionality"] = dimensions
    return item


class GeminiEmbed:
    """The outbound embeddings codec (:class:`hearth.wire.base.EmbedCodec`): ``embedContent``
    for one text, ``batchEmbedContents`` for more; the task travels as ``taskType``."""

    max_batch = MAX_BATCH

    def path(self, model: str, count: int) -> str:
        verb = "embedContent" if count == 1 else "batchEmbedContents"
        return f"/v1beta/models/{{model}}:{verb}"

    def request_to_wire(
        self, texts: Sequence[str], request: EmbedRequest, *, model: str
    ) -> JsonObject:
        items = [_content(text, model, request.task, request.dimensions) for text in texts]
        if len(items) == 1:
            return items[0]
        requests: list[JsonValue] = list(items)
        return {"requests": requests}

    def response_from_wire(self, body: JsonObject, *, count: int, provider: str) -> EmbedBatch:
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
