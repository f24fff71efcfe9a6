"""Embeddings: the result type, input checks, task prefixes and Matryoshka truncation.

Every backend's ``embed`` returns :class:`Embeddings`; the pure helpers here are shared by the
local engine (:mod:`hearth.backends.local.embed`) and the remote translators
(``hearth.wire.*_embed``), so an input is refused, prefixed and normalised the same way
whichever backend embeds it.

``hearth.embed`` (in :mod:`hearth.client`) embeds with the default model, ``local:minilm``.

Tasks. ``task`` names what the vectors are for: ``query``, ``document``, ``similarity``,
``classification``, ``clustering``, ``question_answering``, ``fact_verification``,
``code_query``, or ``other`` (none of those: no prefix, no Gemini ``taskType``). Gemini
receives it as ``taskType``; a local model of a family trained with task prefixes
(EmbeddingGemma, nomic-embed) gets the family's prefix in front of each input; other models
embed the text as it is. No task means no prefix, as those families' own libraries do
(sentence-transformers adds a prompt only when asked). Configured prefixes
(``embed_prefixes=``) replace the family's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hearth.errors import InvalidRequestError
from hearth.events import Usage

Task = Literal[
    "query",
    "document",
    "similarity",
    "classification",
    "clustering",
    "question_answering",
    "fact_verification",
    "code_query",
    "other",
]
TASKS: tuple[Task, ...] = (
    "query",
    "document",
    "similarity",
    "classification",
    "clustering",
    "question_answering",
    "fact_verification",
    "code_query",
    "other",
)

DEFAULT_EMBEDDING_MODEL = "local:minilm"

# EmbeddingGemma's model card: queries and tasks are "task: … | query: ", documents
# "title: none | text: ".
EMBEDDINGGEMMA_PREFIXES: Mapping[Task, str] = {
    "query": "task: search result | query: ",
    "document": "title: none | text: ",
    "similarity": "task: sentence similarity | query: ",
    "classification": "task: classification | query: ",
    "clustering": "task: clustering | query: ",
    "question_answering": "task: question answering | query: ",
    "fact_verification": "task: fact checking | query: ",
    "code_query": "task: code retrieval | query: ",
}
# nomic-embed-text's model card.
NOMIC_PREFIXES: Mapping[Task, str] = {
    "query": "search_query: ",
    "document": "search_document: ",
    "classification": "classification: ",
    "clustering": "clustering: ",
}
FAMILY_PREFIXES: Mapping[str, Mapping[Task, str]] = {
    "embeddinggemma": EMBEDDINGGEMMA_PREFIXES,
    "nomic-embed": NOMIC_PREFIXES,
}


@dataclass(frozen=True, slots=True)
class Embeddings:
    """One vector per input, in input order; ``usage.input_tokens`` counts the tokens embedded
    (0 when the provider does not say). ``model`` names the model as hearth does
    (``local:minilm``); ``model_name`` is the model's own name beside it, where it has one (a
    GGUF file's ``general.name``)."""

    vectors: list[list[float]]
    usage: Usage
    model: str
    model_name: str | None = None

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def dimensions(self) -> int:
        """The length of each vector (0 when there are none)."""
        return len(self.vectors[0]) if self.vectors else 0


def check_inputs(texts: object) -> list[str]:
    """``texts`` as a list of strings; a clear error for an empty list, a bare string's
    characters never being embedded one by one, or a non-string item. ``""`` is allowed."""
    if isinstance(texts, str):
        return [texts]
    if not isinstance(texts, Sequence) or isinstance(texts, bytes | bytearray):
        raise InvalidRequestError(
            f"embed takes a string or a list of strings, got {type(texts).__name__}"
        )
    if len(texts) == 0:
        raise InvalidRequestError("embed got an empty list; pass at least one string")
    for index, item in enumerate(texts):
        if not isinstance(item, str):
            raise InvalidRequestError(
                f"embed input {index} is a {type(item).__name__}, not a string; convert it "
                "with str() or drop it"
            )
    return list(texts)


def check_task(task: str | None) -> Task | None:
    if task is None or task in TASKS:
        return task
    raise InvalidRequestError(f"unknown embedding task {task!r}; use one of {', '.join(TASKS)}")


def check_dimensions(dimensions: int | None, available: int | None = None) -> None:
    """``dimensions`` must be positive, and at most ``available`` when that is known."""
    if dimensions is None:
        return
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise InvalidRequestError(f"dimensions must be a positive integer, got {dimensions!r}")
    if available is not None and dimensions > available:
        raise InvalidRequestError(
            f"dimensions={dimensions} is more than the model's {available}; ask for at most "
            f"{available}"
        )


def family_of(model_name: str, architecture: str | None = None) -> str | None:
    """The task-prefix family of a model, from its name or GGUF architecture."""
    text = f"{model_name} {architecture or ''}".lower().replace("_", "-")
    if "embeddinggemma" in text or "gemma-embedding" in text:
        return "embeddinggemma"
    if "nomic-embed" in text or "nomic-bert" in text:
        return "nomic-embed"
    return None


def task_prefix(
    task: Task | None,
    family: str | None,
    prefixes: Mapping[str, str] | None = None,
) -> str:
    """The text put before each input: ``prefixes`` (configured) first, then the family's.

    No task (or ``other``) means no prefix; a task the table has no prefix for is an error,
    not a silent default.
    """
    if task is None or task == "other":
        return ""
    table: Mapping[str, str] = {}
    if prefixes is not None:
        table = prefixes
    elif family is not None and family in FAMILY_PREFIXES:
        table = {str(k): v for k, v in FAMILY_PREFIXES[family].items()}
    if not table:
        return ""
    if task not in table:
        raise InvalidRequestError(
            f"this model has no prefix for the task {task!r}; it knows {', '.join(table)}. "
            "Leave task unset (or task='other') to embed the text as it is"
        )
    return table[task]


def finish_vector(vector: Sequence[float], dimensions: int | None, normalize: bool) -> list[float]:
    """Keep the first ``dimensions`` values (Matryoshka truncation), then scale to unit length
    when ``normalize`` (a zero vector stays zero)."""
    values = list(vector[:dimensions] if dimensions is not None else vector)
    if normalize:
        norm = math.sqrt(math.fsum(v * v for v in values))
        if norm > 0.0:
            values = [v / norm for v in values]
    return values


def parse_vector(value: object, provider: str) -> list[float]:
    """A JSON array of numbers from a provider's answer, else :class:`ProviderError`."""
    from hearth.errors import ProviderError

    if not isinstance(value, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in value
    ):
        raise ProviderError(f"{provider} answered an embedding that is not a list of numbers")
    return [float(x) for x in value]


def batches(items: Sequence[str], size: int) -> list[Sequence[str]]:
    """``items`` in consecutive slices of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
