"""``Model.count_tokens`` on remote models: Anthropic's ``count_tokens`` and Gemini's
``countTokens`` endpoints get the request's prompt (and only what they count) and their count
comes back; formats without such an endpoint refuse before sending anything."""

from __future__ import annotations

import json

import httpx
import pytest

import hearth
from hearth.errors import AuthenticationError, UnsupportedFeatureError
from hearth.messages import JsonObject


class Counter:
    def __init__(self, answer: JsonObject, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.answer, self.status = answer, status

    def model(self, spec: str) -> hearth.Model:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(self.status, json=self.answer)

        client = httpx.Client(transport=httpx.MockTransport(handle))
        return hearth.model(spec, api_key="k", http_client=client)

    def body(self) -> JsonObject:
        body = json.loads(self.requests[0].content)
        assert isinstance(body, dict)
        return body


def test_anthropic_count_tokens() -> None:
    api = Counter({"input_tokens": 14})
    m = api.model("anthropic:claude-opus-4-1")
    settings = hearth.GenerationSettings(temperature=0.5)
    assert m.count_tokens("Hello, Claude", settings, system="Be brief.") == 14
    request = api.requests[0]
    assert request.url.path == "/v1/messages/count_tokens"
    assert request.headers["x-api-key"] == "k"
    assert api.body() == {
        "model": "claude-opus-4-1",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello, Claude"}]}],
        "system": "Be brief.",
    }


def test_gemini_count_tokens() -> None:
    api = Counter({"totalTokens": 31, "promptTokensDetails": [{"modality": "TEXT"}]})
    m = api.model("gemini:gemini-2.0-flash")
    assert m.count_tokens("The quick brown fox", system="Answer briefly.") == 31
    assert api.requests[0].url.path == "/v1beta/models/gemini-2.0-flash:countTokens"
    inner = api.body()["generateContentRequest"]
    assert isinstance(inner, dict) and inner["model"] == "models/gemini-2.0-flash"
    assert inner["contents"] == [{"role": "user", "parts": [{"text": "The quick brown fox"}]}]
    assert inner["systemInstruction"] == {"parts": [{"text": "Answer briefly."}]}


def test_count_errors_are_mapped() -> None:
    api = Counter({"type": "error", "error": {"type": "authentication_error", "message": "bad"}},
                  status=401)  # fmt: skip
    with pytest.raises(AuthenticationError):
        api.model("anthropic:claude-opus-4-1").count_tokens("hi")


def test_apis_without_a_counting_endpoint_refuse_before_sending() -> None:
    api = Counter({})
    with pytest.raises(UnsupportedFeatureError, match="no token-counting endpoint"):
        api.model("openai:gpt-4o").count_tokens("hi")
    with pytest.raises(UnsupportedFeatureError, match="no tokenizer"):
        api.model("openai:gpt-4o").tokenize("hi")
    assert api.requests == []
