"""Remote embeddings: the pure translators (hearth.wire.*_embed) on recorded-shape JSON, and
RemoteBackend.embed over httpx.MockTransport for OpenAI, Gemini and Ollama; Anthropic refuses."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import hearth
from hearth.embeddings import Embeddings
from hearth.errors import (
    AuthenticationError,
    ContextLengthExceededError,
    InvalidRequestError,
    ProviderError,
    UnsupportedFeatureError,
)
from hearth.events import Usage
from hearth.messages import JsonObject
from hearth.request import EmbedRequest
from hearth.wire.gemini.embed import GeminiEmbed
from hearth.wire.ollama.embed import OllamaEmbed
from hearth.wire.openai import embed as openai_embed
from hearth.wire.openai.embed import OpenAIEmbed

OPENAI, GEMINI, OLLAMA = OpenAIEmbed(), GeminiEmbed(), OllamaEmbed()

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(path: str) -> JsonObject:
    data: JsonObject = json.loads((FIXTURES / path).read_text())
    return data


Handler = Callable[[httpx.Request], httpx.Response]


def recording(answer: JsonObject | Handler, seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if callable(answer):
            return answer(request)
        return httpx.Response(200, json=answer)

    return httpx.Client(transport=httpx.MockTransport(handler))


def body(request: httpx.Request) -> dict[str, object]:
    data: dict[str, object] = json.loads(request.content)
    return data


# ---- translators -------------------------------------------------------------------------------


def test_openai_request_and_response_in_input_order() -> None:
    assert OPENAI.request_to_wire(["a", ""], EmbedRequest(["a", ""], dimensions=3), model="m") == {
        "model": "m",
        "input": ["a", ""],
        "encoding_format": "float",
        "dimensions": 3,
    }
    vectors, tokens = OPENAI.response_from_wire(
        fixture("openai/embeddings.json"), count=2, provider="openai"
    )
    assert vectors == [[1.0, 0.0, 0.0], [0.0, 3.0, 4.0]]  # sorted back by "index"
    assert tokens == 7


def test_openai_response_with_the_wrong_count_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="answered 2 embeddings for 3 inputs"):
        OPENAI.response_from_wire(fixture("openai/embeddings.json"), count=3, provider="openai")
    with pytest.raises(ProviderError, match="not a list of numbers"):
        OPENAI.response_from_wire(
            {"data": [{"index": 0, "embedding": ["x"]}]}, count=1, provider="openai"
        )


def test_openai_inbound_request_and_base64_response_for_the_server() -> None:
    wire = openai_embed.embed_request_from_wire(
        {"model": "minilm", "input": "hi", "encoding_format": "base64", "dimensions": 2}
    )
    assert (wire.model, wire.texts, wire.dimensions, wire.encoding_format) == (
        "minilm",
        ["hi"],
        2,
        "base64",
    )
    result = Embeddings([[0.5, -0.25]], Usage(input_tokens=3), "local:minilm")
    out = openai_embed.embed_response_to_wire(result, model="minilm", encoding_format="base64")
    data = out["data"]
    assert isinstance(data, list) and isinstance(data[0], dict)
    raw = base64.b64decode(str(data[0]["embedding"]))
    assert struct.unpack("<2f", raw) == (0.5, -0.25)
    assert out["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    for bad in ({"input": "x"}, {"model": "m", "input": []}, {"model": "m", "input": [[1, 2]]}):
        with pytest.raises(InvalidRequestError):
            openai_embed.embed_request_from_wire(bad)  # type: ignore[arg-type]


def test_gemini_single_and_batch_requests_carry_task_type_and_dimensionality() -> None:
    single = GEMINI.request_to_wire(
        ["q"], EmbedRequest(["q"], dimensions=768, task="query"), model="gemini-embedding-001"
    )
    assert single == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "q"}]},
        "taskType": "RETRIEVAL_QUERY",
        "outputDimensionality": 768,
    }
    batch = GEMINI.request_to_wire(
        ["a", "b"], EmbedRequest(["a", "b"], task="document"), model="models/x"
    )
    requests = batch["requests"]
    assert isinstance(requests, list) and len(requests) == 2
    assert requests[1] == {
        "model": "models/x",
        "content": {"parts": [{"text": "b"}]},
        "taskType": "RETRIEVAL_DOCUMENT",
    }
    assert GEMINI.path("x", 1).endswith(":embedContent")
    assert GEMINI.path("x", 2).endswith(":batchEmbedContents")


def test_gemini_responses() -> None:
    vectors, tokens = GEMINI.response_from_wire(
        fixture("gemini/batch_embed_contents.json"), count=2, provider="gemini"
    )
    assert vectors == [[0.6, 0.8, 0.0], [2.0, 0.0, 0.0]] and tokens == 0
    one, _ = GEMINI.response_from_wire(
        fixture("gemini/embed_content.json"), count=1, provider="gemini"
    )
    assert one == [[0.0, 0.0, 5.0]]


def test_ollama_request_does_not_truncate_unless_asked() -> None:
    assert OLLAMA.request_to_wire(["a"], EmbedRequest(["a"]), model="all-minilm") == {
        "model": "all-minilm",
        "input": ["a"],
        "truncate": False,
    }
    asked = OLLAMA.request_to_wire(
        ["a"], EmbedRequest(["a"], dimensions=2, truncate=True), model="m"
    )
    assert asked["truncate"] is True and asked["dimensions"] == 2
    vectors, tokens = OLLAMA.response_from_wire(
        fixture("ollama/embed.json"), count=2, provider="ollama"
    )
    assert len(vectors) == 2 and tokens == 8


# ---- through RemoteBackend ---------------------------------------------------------------------


def test_openai_embed_over_http() -> None:
    seen: list[httpx.Request] = []
    client = recording(fixture("openai/embeddings.json"), seen)
    m = hearth.model("openai:text-embedding-3-small", api_key="sk-test", http_client=client)
    result = m.embed(["first", "second"], dimensions=3)
    (request,) = seen
    assert request.url == "https://api.openai.com/v1/embeddings"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert body(request)["dimensions"] == 3 and body(request)["input"] == ["first", "second"]
    assert result.vectors == [[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]]  # renormalised
    assert result.usage.input_tokens == 7
    assert result.model == "openai:text-embedding-3-small"


def test_openai_compatible_endpoints_use_the_same_route() -> None:
    seen: list[httpx.Request] = []
    client = recording(fixture("openai/embeddings.json"), seen)
    m = hearth.model("openai:e", api_key="k", base_url="http://127.0.0.1:9/v1", http_client=client)
    m.embed(["a", "b"], normalize=False)
    assert str(seen[0].url) == "http://127.0.0.1:9/v1/embeddings"


def test_openai_context_length_error_is_mapped() -> None:
    seen: list[httpx.Request] = []
    client = recording(
        lambda r: httpx.Response(400, json=fixture("openai/error_context_length.json")), seen
    )
    m = hearth.model("openai:text-embedding-3-small", api_key="k", http_client=client)
    with pytest.raises(ContextLengthExceededError):
        m.embed(["very long"])


def test_openai_cannot_truncate_and_says_so_before_sending() -> None:
    seen: list[httpx.Request] = []
    m = hearth.model("openai:e", api_key="k", http_client=recording({}, seen))
    with pytest.raises(UnsupportedFeatureError, match="cannot truncate"):
        m.embed(["x"], truncate=True)
    assert seen == []


def test_gemini_embed_over_http_single_and_batch() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        name = (
            "embed_content"
            if request.url.path.endswith(":embedContent")
            else "batch_embed_contents"
        )
        return httpx.Response(200, json=fixture(f"gemini/{name}.json"))

    client = recording(answer, seen)
    m = hearth.model("gemini:gemini-embedding-001", api_key="g-key", http_client=client)
    one = m.embed("query text", task="query", dimensions=3)
    two = m.embed(["a", "b"], task="document")
    assert seen[0].url.path == "/v1beta/models/gemini-embedding-001:embedContent"
    assert seen[0].headers["x-goog-api-key"] == "g-key"
    assert body(seen[0])["taskType"] == "RETRIEVAL_QUERY"
    assert body(seen[0])["outputDimensionality"] == 3
    assert seen[1].url.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert one.vectors == [[0.0, 0.0, 1.0]]
    assert two.vectors[1] == [1.0, 0.0, 0.0]
    assert all(math.isclose(math.hypot(*v), 1.0) for v in two.vectors)


def test_gemini_batches_of_more_than_100_inputs_are_split() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        n = len(body(request)["requests"])  # type: ignore[arg-type]
        return httpx.Response(200, json={"embeddings": [{"values": [1.0, 0.0]}] * n})

    m = hearth.model("gemini:e", api_key="k", http_client=recording(answer, seen))
    result = m.embed([f"t{i}" for i in range(150)])
    assert [len(body(r)["requests"]) for r in seen] == [100, 50]  # type: ignore[arg-type]
    assert len(result.vectors) == 150


def test_ollama_embed_over_http_and_auth_errors() -> None:
    seen: list[httpx.Request] = []
    m = hearth.model("ollama:all-minilm", http_client=recording(fixture("ollama/embed.json"), seen))
    result = m.embed(["a", "b"], dimensions=2, truncate=True)
    assert seen[0].url.path == "/api/embed"
    assert body(seen[0])["truncate"] is True
    assert result.vectors[1] == pytest.approx([math.sqrt(0.5), math.sqrt(0.5)])
    assert result.usage.input_tokens == 8
    denied = recording(lambda r: httpx.Response(401, json={"error": "unauthorized"}), [])
    with pytest.raises(AuthenticationError):
        hearth.model("openai:e", api_key="bad", http_client=denied).embed(["x"])


def test_anthropic_has_no_embeddings() -> None:
    seen: list[httpx.Request] = []
    m = hearth.model("anthropic:claude-sonnet-4-5", api_key="k", http_client=recording({}, seen))
    with pytest.raises(UnsupportedFeatureError, match="no embeddings endpoint"):
        m.embed(["x"])
    with pytest.raises(UnsupportedFeatureError, match="no embeddings endpoint"):
        asyncio.run(m.aembed(["x"]))
    assert seen == []


def test_aembed_over_http() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=fixture("openai/embeddings.json"))

    aclient = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    m = hearth.model("openai:e", api_key="k", async_http_client=aclient)
    result = asyncio.run(m.aembed(["x", "y"]))
    assert result.vectors[0] == [1.0, 0.0, 0.0] and len(seen) == 1
