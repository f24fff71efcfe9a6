"""A real local model's lifecycle and names: loaded on first use, closed for good, and the
GGUF's own name reported beside hearth's spec; embedding options through hearth.model()."""

from __future__ import annotations

import math

import pytest

import hearth
from hearth.agent import Agent
from hearth.errors import ModelClosedError
from hearth.settings import GenerationSettings

pytestmark = pytest.mark.integration

SHORT = GenerationSettings(temperature=0, max_tokens=4)


def test_loaded_then_closed_for_good() -> None:
    model = hearth.model("local:smollm2", n_threads=2)
    agent = Agent(model)
    assert not agent.loaded and not model.loaded
    response = model.chat("Hi", settings=SHORT)
    assert agent.loaded
    assert response.model == "local:smollm2"
    assert response.model_name is not None and "smollm2" in response.model_name.lower()
    model.close()
    assert not model.loaded
    with pytest.raises(ModelClosedError, match="local:smollm2 is closed"):
        model.chat("Hi again", settings=SHORT)


def cosine(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_report_the_gguf_name_and_take_pooling() -> None:
    texts = ["The cat sleeps on the mat.", "Stock markets fell sharply today."]
    with hearth.model("local:minilm", n_threads=2) as mean:
        by_mean = mean.embed(texts)
    with hearth.model("local:minilm", n_threads=2, pooling="cls") as cls:
        by_cls = cls.embed(texts)
    assert by_mean.model == "local:minilm"
    assert by_mean.model_name is not None and "minilm" in by_mean.model_name.lower()
    assert cosine(by_mean.vectors[0], by_cls.vectors[0]) < 0.99  # another pooling, another vector
