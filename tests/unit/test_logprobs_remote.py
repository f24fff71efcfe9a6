"""Remote backends pass log-probabilities through where the API returns them: OpenAI chat and
legacy completions (and so vLLM and llama-server), Gemini's ``logprobsResult``, Ollama, the
Responses API; and refuse them where it has none (Anthropic). Recorded answers behind
``httpx.MockTransport``; the request bodies are checked too."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import hearth
from hearth.errors import UnsupportedFeatureError
from hearth.events import TextDelta
from hearth.messages import JsonObject

FIXTURES = Path(__file__).parents[1] / "fixtures"


class Recorder:
    """Answers every request with one recorded body (JSON or a stream) and keeps the bodies."""

    def __init__(self, answer: str, *, stream: bool = False) -> None:
        self.bodies: list[JsonObject] = []
        self.answer = (FIXTURES / answer).read_bytes()
        kind = "text/event-stream" if stream else "application/json"
        self.headers = {"content-type": kind}

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, content=self.answer, headers=self.headers)

    def model(self, spec: str) -> hearth.Model:
        client = httpx.Client(transport=httpx.MockTransport(self._handle))
        return hearth.model(spec, api_key="k", http_client=client)


def test_openai_chat_logprobs_pass_through() -> None:
    rec = Recorder("openai/chat_logprobs.json")
    r = rec.model("openai:gpt-4o-mini").chat("hi", logprobs=True, top_logprobs=2)
    assert rec.bodies[0]["logprobs"] is True and rec.bodies[0]["top_logprobs"] == 2
    assert [(e.token, e.logprob, e.bytes) for e in r.logprobs] == [
        ("Hello", -0.31725305, b"Hello"),
        ("!", -0.02380986, b"!"),
    ]
    assert [t.token for t in r.logprobs[0].top] == ["Hello", "Hi"]


def test_openai_chat_stream_logprobs_pass_through() -> None:
    rec = Recorder("openai/chat_stream_logprobs.sse", stream=True)
    events = list(rec.model("openai:gpt-4o-mini").stream("hi", logprobs=True))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert [(d.text, [lp.token for lp in d.logprobs]) for d in deltas] == [
        ("Hello", ["Hello"]),
        ("!", ["!"]),
    ]
    assert "top_logprobs" not in rec.bodies[0]


def test_openai_completions_logprobs_pass_through() -> None:
    rec = Recorder("openai/completion_logprobs.json")
    r = rec.model("openai:gpt-3.5-turbo-instruct").complete("1, 2, 3, 4,", top_logprobs=1)
    assert rec.bodies[0]["logprobs"] == 1 and "echo" not in rec.bodies[0]
    assert [e.token for e in r.logprobs] == [" ", "5", ",", " ", "6"]
    assert r.logprobs[1].logprob == -0.072 and [t.token for t in r.logprobs[1].top] == ["5"]


def test_gemini_logprobs_result_passes_through() -> None:
    rec = Recorder("gemini/response_logprobs.json")
    r = rec.model("gemini:gemini-2.0-flash").chat("capital?", logprobs=True, top_logprobs=2)
    config = rec.bodies[0]["generationConfig"]
    assert isinstance(config, dict)
    assert config["responseLogprobs"] is True and config["logprobs"] == 2
    assert [(e.token, e.logprob, e.id) for e in r.logprobs] == [
        ("Paris", -0.01, 12345),
        (".", -0.09, 235265),
    ]
    assert [t.token for t in r.logprobs[0].top] == ["Paris", "The"]


def test_gemini_stream_logprobs_pass_through() -> None:
    rec = Recorder("gemini/stream_logprobs.sse", stream=True)
    response = hearth.accumulate(
        rec.model("gemini:gemini-2.0-flash").stream("capital?", logprobs=True)
    )
    assert response.text == "Paris."
    assert [e.token for e in response.logprobs] == ["Paris", "."]


def test_anthropic_refuses_logprobs_before_sending() -> None:
    rec = Recorder("anthropic/response_text.json")
    with pytest.raises(UnsupportedFeatureError, match="no log-probabilities"):
        rec.model("anthropic:claude-opus-4-1").chat("hi", logprobs=True)
    assert rec.bodies == []


def test_prompt_logprobs_are_a_local_models() -> None:
    rec = Recorder("openai/completion_logprobs.json")
    with pytest.raises(UnsupportedFeatureError, match="prompt_logprobs"):
        rec.model("openai:gpt-3.5-turbo-instruct").complete("1, 2,", prompt_logprobs=True)
    assert rec.bodies == []


def test_ollama_logprobs_pass_through() -> None:
    rec = Recorder("ollama/response_logprobs.json")
    r = rec.model("ollama:llama3.2").chat("hi", logprobs=True, top_logprobs=2)
    assert rec.bodies[0]["logprobs"] is True and rec.bodies[0]["top_logprobs"] == 2
    assert [(e.token, e.logprob) for e in r.logprobs] == [("Hi", -0.12), ("!", -0.4)]
    assert [t.token for t in r.logprobs[0].top] == ["Hi", "Hello"]
