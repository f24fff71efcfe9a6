"""``hearth serve`` on loopback with the real SmolLM2 and all-MiniLM-L6-v2, driven by the
official ``ollama`` client and langchain-ollama on Ollama's native API: list, show, chat
streamed and not, generate (templated and raw), tools, embeddings, errors."""

from __future__ import annotations

import math
from collections.abc import Iterator

import ollama
import pytest
from langchain_ollama import ChatOllama, OllamaEmbeddings
from tests.support.served import served

from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

CHAT = "local:smollm2"
EMBED = "local:minilm"
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
GREEDY = {"temperature": 0, "num_predict": 48}  # room for a whole tool call


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
      city: the city, e.g. Paris
    """
    return "sunny, 22 degrees"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings = ServerSettings(
        models=(CHAT, EMBED), max_queue=4, timeout=120, backend_options={"n_threads": 2}
    )
    with served(settings) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> ollama.Client:
    return ollama.Client(host=base_url)


def test_list_and_show(client: ollama.Client) -> None:
    listed = {m.model: m for m in client.list().models}
    assert set(listed) == {CHAT, EMBED}
    details = listed[CHAT].details
    assert details is not None and (details.format, details.family) == ("gguf", "llama")
    assert (details.parameter_size, details.quantization_level) == ("135M", "Q4_1")
    show = client.show(CHAT)
    assert show.capabilities == ["completion", "tools"]
    assert show.modelinfo is not None and show.modelinfo["llama.context_length"] == 8192
    assert show.template and "im_start" in show.template  # SmolLM2's own ChatML template
    assert client.show(EMBED).capabilities == ["embedding"]
    assert {m.model for m in client.ps().models} == {CHAT, EMBED}


def test_chat_whole_and_streamed(client: ollama.Client) -> None:
    r = client.chat(model=CHAT, messages=QUESTION, options=GREEDY)
    assert "Paris" in (r.message.content or "")
    assert r.done and r.prompt_eval_count and r.eval_count
    parts = list(client.chat(model=CHAT, messages=QUESTION, options=GREEDY, stream=True))
    assert "Paris" in "".join(p.message.content or "" for p in parts)
    assert parts[-1].done and parts[-1].eval_count and parts[-1].eval_duration


def test_generate_templated_and_raw(client: ollama.Client) -> None:
    templated = client.generate(model=CHAT, prompt=QUESTION[0]["content"], options=GREEDY)
    assert "Paris" in templated.response
    raw = client.generate(model=CHAT, prompt="The capital of France is", raw=True, options=GREEDY)
    assert "Paris" in raw.response  # the text itself is continued, with no template


def test_tools_reach_the_model_and_a_tool_result_is_answered(client: ollama.Client) -> None:
    """Ollama has no tool_choice: the model may call the tool or answer in text, and a client
    sees one or the other, well formed."""
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    parts = list(
        client.chat(model=CHAT, messages=ask, tools=[get_weather], stream=True, options=GREEDY)
    )
    calls = [c for p in parts for c in (p.message.tool_calls or [])]
    text = "".join(p.message.content or "" for p in parts)
    assert parts[-1].done
    assert text.strip() or calls
    for call in calls:
        assert call.function.name == "get_weather" and isinstance(call.function.arguments, dict)
    history = [
        *ask,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
        },
        {"role": "tool", "tool_name": "get_weather", "content": "sunny, 22 degrees"},
    ]
    answer = client.chat(
        model=CHAT, messages=history, options={"temperature": 0, "num_predict": 24}
    )
    assert (answer.message.content or "").strip()


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embed(client: ollama.Client) -> None:
    texts = ["A cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell today."]
    vectors = [list(v) for v in client.embed(model=EMBED, input=texts).embeddings]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert math.isclose(math.hypot(*vectors[0]), 1.0, rel_tol=1e-3)  # normalised, as Ollama's
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    legacy = list(client.embeddings(model=EMBED, prompt=texts[0]).embedding)
    assert len(legacy) == 384


def test_errors(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat(model="llama9", messages=QUESTION)
    assert caught.value.status_code == 404
    with pytest.raises(ollama.ResponseError, match="num_ctx") as caught:
        client.chat(model=CHAT, messages=QUESTION, options={"num_ctx": 100_000})
    assert caught.value.status_code == 400
    with pytest.raises(ollama.ResponseError, match="context window") as caught:
        client.chat(model=CHAT, messages=[{"role": "user", "content": "word " * 9000}])
    assert caught.value.status_code == 400


def test_langchain_chat_ollama(base_url: str) -> None:
    # num_predict 48: room for a whole tool call
    llm = ChatOllama(model=CHAT, base_url=base_url, temperature=0, num_predict=48)
    assert "Paris" in str(llm.invoke(QUESTION[0]["content"]).content)
    streamed = "".join(str(c.content) for c in llm.stream(QUESTION[0]["content"]))
    assert "Paris" in streamed
    answer = llm.bind_tools([get_weather]).invoke("What is the weather in Paris?")
    assert str(answer.content).strip() or answer.tool_calls  # type: ignore[attr-defined]
    for call in answer.tool_calls:  # type: ignore[attr-defined]
        assert call["name"] == "get_weather" and isinstance(call["args"], dict)


def test_langchain_ollama_embeddings(base_url: str) -> None:
    embeddings = OllamaEmbeddings(model=EMBED, base_url=base_url)
    assert len(embeddings.embed_query("hello")) == 384
