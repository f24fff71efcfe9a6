"""hearth.embeddings: input checks, task prefixes, Matryoshka truncation, packing; and the
Model / hearth.embed front door over a backend that embeds."""

from __future__ import annotations

import asyncio
import math

import pytest

import hearth
from hearth.backends.base import BackendBase, Capabilities
from hearth.backends.local.embed import EmbedConfig, pack
from hearth.backends.testing import FakeBackend
from hearth.embeddings import (
    Embeddings,
    check_dimensions,
    check_inputs,
    family_of,
    finish_vector,
    task_prefix,
)
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.events import Usage
from hearth.request import EmbedRequest


class CountingBackend(BackendBase):
    """Embeds each text as [len(text), 1, 0]: enough to see order, options and normalising."""

    name = "test:counting"

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def capabilities(self) -> Capabilities:
        return Capabilities(embeddings=True)

    def embed(self, request: EmbedRequest) -> Embeddings:
        texts, dimensions = request.texts, request.dimensions
        self.calls.append(
            {"texts": list(texts), "dimensions": dimensions, "task": request.task,
             "truncate": request.truncate}
        )  # fmt: skip
        vectors = [finish_vector([len(t), 1.0, 0.0], dimensions, request.normalize) for t in texts]
        return Embeddings(vectors, Usage(input_tokens=len(texts)), self.name)


# ---- input checks ------------------------------------------------------------------------------


def test_an_empty_list_is_refused_with_what_to_do() -> None:
    with pytest.raises(InvalidRequestError, match="empty list; pass at least one string"):
        check_inputs([])


@pytest.mark.parametrize("bad", [["ok", 3], ["ok", None], [b"bytes"]])
def test_a_non_string_item_is_refused_naming_its_position(bad: list[object]) -> None:
    with pytest.raises(InvalidRequestError, match=r"embed input \d is a"):
        check_inputs(bad)


def test_bytes_and_non_sequences_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="string or a list of strings"):
        check_inputs(b"abc")
    with pytest.raises(InvalidRequestError, match="string or a list of strings"):
        check_inputs(42)


def test_an_empty_string_is_a_valid_input_and_a_bare_string_is_one_input() -> None:
    assert check_inputs(["", "x"]) == ["", "x"]
    assert check_inputs("one text") == ["one text"]


@pytest.mark.parametrize("bad", [0, -3, True, 2.5])
def test_dimensions_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(InvalidRequestError, match="positive integer"):
        check_dimensions(bad)  # type: ignore[arg-type]


def test_more_dimensions_than_the_model_has_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequestError, match="dimensions=385 is more than the model's 384"):
        check_dimensions(385, 384)
    check_dimensions(384, 384)


# ---- vectors -----------------------------------------------------------------------------------


def test_matryoshka_truncation_keeps_the_first_values_then_renormalises() -> None:
    out = finish_vector([3.0, 4.0, 12.0], 2, True)
    assert out == pytest.approx([0.6, 0.8])
    assert finish_vector([3.0, 4.0, 12.0], None, False) == [3.0, 4.0, 12.0]
    assert math.fsum(v * v for v in finish_vector([1.0, 2.0, 2.0], None, True)) == pytest.approx(1)


def test_a_zero_vector_stays_zero_when_normalised() -> None:
    assert finish_vector([0.0, 0.0], None, True) == [0.0, 0.0]


def test_packing_groups_longest_first_within_both_limits() -> None:
    groups = pack([5, 1, 9, 3, 3], max_tokens=10, max_sequences=2)
    assert groups == [[2], [0, 3], [4, 1]]
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3, 4]
    assert pack([4, 4, 4], max_tokens=100, max_sequences=64) == [[0, 1, 2]]
    assert pack([2, 30, 3], max_tokens=8, max_sequences=64) == [[1], [2, 0]]


def test_embed_config_refuses_bad_values() -> None:
    with pytest.raises(InvalidRequestError, match="pooling must be one of mean, cls, last"):
        EmbedConfig(pooling="max")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="max_sequences"):
        EmbedConfig(max_sequences=0)


# ---- task prefixes -----------------------------------------------------------------------------


def test_embeddinggemma_gets_its_query_and_document_prefixes() -> None:
    family = family_of("local:hf:unsloth/embeddinggemma-300m-GGUF/embeddinggemma-300M-Q8_0.gguf")
    assert family == "embeddinggemma"
    assert task_prefix("query", family) == "task: search result | query: "
    assert task_prefix("document", family) == "title: none | text: "
    assert family_of("x", "gemma-embedding") == "embeddinggemma"


@pytest.mark.parametrize("family", ["embeddinggemma", "nomic-embed", None])
def test_no_task_or_task_other_means_no_prefix(family: str | None) -> None:
    assert task_prefix(None, family) == ""
    assert task_prefix("other", family) == ""
    assert task_prefix(None, family, {"query": "q: "}) == ""
    assert task_prefix("other", family, {"query": "q: "}) == ""


def test_task_other_is_a_task_and_gemini_gets_no_task_type() -> None:
    from hearth.request import EmbedRequest
    from hearth.wire.gemini.embed import GeminiEmbed

    request = EmbedRequest(["a"], task="other")
    assert request.task == "other"
    body = GeminiEmbed().request_to_wire(["a"], request, model="gemini-embedding-001")
    assert "taskType" not in str(body)
    with pytest.raises(InvalidRequestError, match="unknown embedding task 'misc'"):
        EmbedRequest(["a"], task="misc")  # type: ignore[arg-type]


def test_models_without_a_prefix_family_embed_the_text_as_is() -> None:
    assert family_of("local:minilm", "bert") is None
    assert task_prefix("query", None) == ""


def test_configured_prefixes_replace_the_familys_and_unknown_tasks_are_errors() -> None:
    mine = {"query": "q: ", "document": "d: "}
    assert task_prefix("document", "embeddinggemma", mine) == "d: "
    with pytest.raises(InvalidRequestError, match="no prefix for the task 'clustering'"):
        task_prefix("clustering", None, mine)


# ---- the front door ------------------------------------------------------------------------------


def test_model_embed_passes_the_options_and_keeps_input_order() -> None:
    backend = CountingBackend()
    result = hearth.Model(backend).embed(
        ["a", "", "abc"], dimensions=2, task="document", truncate=True
    )
    assert backend.calls == [
        {"texts": ["a", "", "abc"], "dimensions": 2, "task": "document", "truncate": True}
    ]
    assert result.vectors[1] == pytest.approx([0.0, 1.0])
    assert result.vectors[2] == pytest.approx([3 / math.sqrt(10), 1 / math.sqrt(10)])
    assert result.dimensions == 2 and len(result) == 3
    assert result.usage.input_tokens == 3


def test_model_embed_refuses_bad_input_before_the_backend_sees_it() -> None:
    backend = CountingBackend()
    m = hearth.Model(backend)
    with pytest.raises(InvalidRequestError):
        m.embed([])
    with pytest.raises(InvalidRequestError, match="unknown embedding task 'search'"):
        m.embed(["x"], task="search")
    assert backend.calls == []


def test_aembed_is_the_async_twin() -> None:
    backend = CountingBackend()
    result = asyncio.run(hearth.Model(backend).aembed(["ab"], normalize=False))
    assert result.vectors == [[2.0, 1.0, 0.0]]


def test_a_backend_that_cannot_embed_says_so() -> None:
    m = hearth.Model(FakeBackend([]))
    with pytest.raises(UnsupportedFeatureError, match="cannot embed"):
        m.embed(["x"])
    with pytest.raises(UnsupportedFeatureError, match="cannot embed"):
        asyncio.run(m.aembed(["x"]))


def test_hearth_embed_opens_the_named_model_and_closes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = CountingBackend()
    closed: list[bool] = []
    backend.close = lambda: closed.append(True)  # type: ignore[method-assign]
    opened: list[str] = []

    def fake_model(spec: str, /, **options: object) -> hearth.Model:
        opened.append(spec)
        return hearth.Model(backend)

    monkeypatch.setattr("hearth.client.model", fake_model)
    result = hearth.embed(["abcd"], model="test:counting", normalize=False)
    assert result.vectors == [[4.0, 1.0, 0.0]]
    assert opened == ["test:counting"] and closed == [True]
    assert hearth.embed.__defaults__ == ("local:minilm",)
    asyncio.run(hearth.aembed("xy", model="test:counting"))
    assert closed == [True, True]
