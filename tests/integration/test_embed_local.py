"""Local embeddings on the real models: all-MiniLM-L6-v2 (converted to GGUF in the store)
against sentence-transformers' vectors, and a chat model embedding beside its generation."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

import hearth
from hearth.catalog.entries import find_entry
from hearth.errors import ContextLengthExceededError, InvalidRequestError

pytestmark = pytest.mark.integration

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "minilm_reference.json"
THREADS = 2


def cosine(a: list[float], b: list[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.hypot(*a) * math.hypot(*b))


@pytest.fixture(scope="module")
def minilm() -> Iterator[hearth.Model]:
    with hearth.model("local:minilm", n_threads=THREADS) as m:
        yield m


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    data: dict[str, object] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def items(reference: dict[str, object]) -> list[dict[str, object]]:
    found = reference["items"]
    assert isinstance(found, list)
    return found


def test_minilm_matches_sentence_transformers(
    minilm: hearth.Model, reference: dict[str, object]
) -> None:
    assert reference["sha256"] == find_entry("minilm").sha256  # the same weights
    texts = [str(item["text"]) for item in items(reference)]
    result = minilm.embed(texts, truncate=True)  # the long text: both keep its first 256 tokens
    assert len(result.vectors) == len(texts) and result.dimensions == 384
    for item, vector in zip(items(reference), result.vectors, strict=True):
        expected = item["vector"]
        assert isinstance(expected, list)
        assert cosine(vector, expected) >= 0.999, item["text"]
        assert math.hypot(*vector) == pytest.approx(1.0)
    short = [int(str(i["tokens"])) for i in items(reference) if int(str(i["tokens"])) <= 256]
    assert result.usage.input_tokens == sum(short) + 256


def test_an_input_longer_than_the_window_is_an_error_unless_truncating(
    minilm: hearth.Model,
) -> None:
    long_text = "word " * 400
    with pytest.raises(ContextLengthExceededError, match="truncate=True") as caught:
        minilm.embed(["short", long_text])
    assert caught.value.context_length == 256 and caught.value.prompt_tokens == 402
    assert minilm.embed([long_text], truncate=True).usage.input_tokens == 256


def test_batched_vectors_equal_one_at_a_time(
    minilm: hearth.Model, reference: dict[str, object]
) -> None:
    texts = [str(item["text"]) for item in items(reference)][:6]
    batched = minilm.embed(texts).vectors
    for text, vector in zip(texts, batched, strict=True):
        assert cosine(minilm.embed([text]).vectors[0], vector) > 0.9999


def test_matryoshka_dimensions_and_the_upper_bound(minilm: hearth.Model) -> None:
    full = minilm.embed(["A man is playing a guitar."], normalize=False).vectors[0]
    cut = minilm.embed(["A man is playing a guitar."], dimensions=64).vectors[0]
    assert len(cut) == 64 and math.hypot(*cut) == pytest.approx(1.0)
    norm = math.hypot(*full[:64])
    assert cut == pytest.approx([v / norm for v in full[:64]], abs=1e-5)
    with pytest.raises(InvalidRequestError, match="more than the model's 384"):
        minilm.embed(["x"], dimensions=385)


def test_similar_sentences_are_closer(minilm: hearth.Model) -> None:
    cat, kitten, market = minilm.embed(
        ["The cat sleeps on the sofa.", "A kitten naps on the couch.", "Stocks fell sharply."]
    ).vectors
    assert cosine(cat, kitten) > cosine(cat, market) + 0.3


def test_aembed(minilm: hearth.Model) -> None:
    result = asyncio.run(minilm.aembed(["", "hello"]))
    assert len(result.vectors) == 2 and result.usage.input_tokens == 2 + 3


def test_a_chat_model_embeds_without_disturbing_its_generation(smollm2: hearth.Model) -> None:
    prompt = "Name three colours."
    baseline = smollm2.chat(prompt, temperature=0, max_tokens=24).text
    with smollm2.stream(prompt, temperature=0, max_tokens=24) as stream:
        pieces = stream.text_stream
        first = next(pieces)
        vectors = smollm2.embed(["red", "a long sentence about the colour blue"]).vectors
        rest = "".join(pieces)
    assert first + rest == baseline
    assert len(vectors) == 2 and len(vectors[0]) == 576  # SmolLM2-135M's hidden size
    assert math.hypot(*vectors[0]) == pytest.approx(1.0)


def test_parallel_workers_give_the_same_vectors_in_input_order(
    reference: dict[str, object],
) -> None:
    from hearth.backends.local.embed import EmbedConfig, LocalEmbedder
    from hearth.catalog.store import ModelStore
    from hearth.request import EmbedRequest

    path = ModelStore().ensure(find_entry("minilm"))
    texts = [str(item["text"]) for item in items(reference)][:-1] * 3
    with (
        LocalEmbedder(path, EmbedConfig(n_threads=2, workers=1), context_length=256) as one,
        LocalEmbedder(path, EmbedConfig(n_threads=2, n_batch=32), context_length=256) as many,
    ):
        assert len(many._slots) == 2
        serial = one.embed(EmbedRequest(texts)).vectors
        parallel = many.embed(EmbedRequest(texts)).vectors  # 30+ decodes shared by two contexts
    for a, b in zip(serial, parallel, strict=True):
        assert cosine(a, b) > 0.99999


def test_an_embedding_model_refuses_to_chat_and_says_what_to_use(minilm: hearth.Model) -> None:
    assert minilm.backend.capabilities().embeddings
    assert not minilm.backend.capabilities().tools
    with pytest.raises(hearth.UnsupportedFeatureError, match=r"embedding model.*embed\(\)"):
        minilm.chat("Hello")
    assert len(minilm.embed(["still embeds"]).vectors[0]) == 384
