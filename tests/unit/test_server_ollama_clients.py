"""The official ``ollama`` client and langchain-ollama read what ``hearth serve`` sends on
Ollama's native API, with FakeBackend scripts behind it (so text, tool calls, usage and errors
are exact); the same clients run against the real SmolLM2 in
tests/integration/test_server_ollama_live_clients.py."""

from __future__ import annotations

from collections.abc import Iterator

import ollama
import pytest
from langchain_core.messages import AIMessageChunk
from langchain_ollama import ChatOllama, OllamaEmbeddings
from tests.support.served import fakes_served
from tests.unit.test_server_ollama import EmbeddingFake

from hearth.backends.base import Capabilities
from hearth.backends.testing import Script
from hearth.errors import ContextLengthExceededError
from hearth.events import Done, TextDelta, ToolCallEvent, Usage
from hearth.messages import ToolCallPart

TEXT: Script = [TextDelta("Par"), TextDelta("is"), Done("end_turn", Usage(7, 2))]
CALLS: Script = [
    ToolCallEvent(ToolCallPart("call_7", "get_weather", '{"city": "Paris"}')),
    ToolCallEvent(ToolCallPart("call_8", "get_time", '{"tz": "CET"}')),
    Done("tool_use", Usage(9, 6)),
]
USER = [{"role": "user", "content": "capital of France?"}]


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
      city: the city
    """
    return "sunny"


def get_time(tz: str) -> str:
    """Get the time in a time zone.

    Args:
      tz: the time zone
    """
    return "noon"


@pytest.fixture
def serve() -> Iterator[object]:
    caps = Capabilities(context_length=2048, tools=True, raw_completion=True)
    with fakes_served(caps, emb=EmbeddingFake()) as start:
        yield start


def test_ollama_client(serve: object) -> None:
    url, fake = serve(TEXT, TEXT, CALLS, TEXT, [ContextLengthExceededError(9000, 2048)])  # type: ignore[operator]
    client = ollama.Client(host=url)
    assert [m.model for m in client.list().models] == ["fake", "emb"]
    r = client.chat(model="fake", messages=USER, options={"temperature": 0, "num_predict": 8})
    assert r.message.content == "Paris" and (r.prompt_eval_count, r.eval_count) == (7, 2)
    assert fake.requests[0].settings.max_tokens == 8
    parts = list(client.chat(model="fake", messages=USER, stream=True))
    assert "".join(p.message.content or "" for p in parts) == "Paris" and parts[-1].done
    r = client.chat(model="fake", messages=USER, tools=[get_weather, get_time])
    calls = r.message.tool_calls or []
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    assert [t.name for t in fake.requests[2].tools] == ["get_weather", "get_time"]
    g = client.generate(model="fake", prompt="The capital of France is")
    assert g.response == "Paris" and g.done_reason == "stop"
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="fake", messages=USER)
    assert caught.value.status_code == 400 and "9000" in caught.value.error
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="llama9", messages=USER)
    assert caught.value.status_code == 404


def test_ollama_client_embed_show_and_ps(serve: object) -> None:
    url, _ = serve()  # type: ignore[operator]
    client = ollama.Client(host=url)
    e = client.embed(model="emb", input=["a", "bb"])
    assert [list(v) for v in e.embeddings] == [[1.0, 1.5, -2.0], [2.0, 1.5, -2.0]]
    assert list(client.embeddings(model="emb", prompt="abc").embedding) == [3.0, 1.5, -2.0]
    show = client.show("fake")
    assert show.capabilities == ["completion", "tools"]
    assert show.parameters is not None and "num_ctx" in show.parameters
    assert {m.model for m in client.ps().models} == {"fake", "emb"}


def test_langchain_chat_ollama(serve: object) -> None:
    url, fake = serve(TEXT, TEXT, CALLS, CALLS)  # type: ignore[operator]
    llm = ChatOllama(model="fake", base_url=url, temperature=0)
    r = llm.invoke("capital of France?")
    assert r.content == "Paris" and r.usage_metadata is not None
    assert r.usage_metadata["output_tokens"] == 2
    assert "".join(str(c.content) for c in llm.stream("capital of France?")) == "Paris"
    assert fake.requests[0].settings.temperature == 0
    tools = llm.bind_tools([get_weather, get_time])
    calls = tools.invoke("weather and time in Paris?").tool_calls  # type: ignore[attr-defined]
    assert [(c["name"], c["args"]) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "CET"}),
    ]
    chunks = list(tools.stream("weather and time in Paris?"))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk  # type: ignore[operator]
    assert isinstance(merged, AIMessageChunk)
    assert [c["name"] for c in merged.tool_calls] == ["get_weather", "get_time"]


def test_langchain_ollama_embeddings(serve: object) -> None:
    url, _ = serve()  # type: ignore[operator]
    embeddings = OllamaEmbeddings(model="emb", base_url=url)
    assert embeddings.embed_documents(["a", "bb"]) == [[1.0, 1.5, -2.0], [2.0, 1.5, -2.0]]
