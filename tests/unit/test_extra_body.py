"""``extra_body``: provider fields hearth does not model, merged into the body a remote backend
sends (every wire format), refused where hearth sets the field itself, and by local models."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.unit.conftest import TinyGGUF

import hearth
from hearth.backends.remote_http import merge_extra
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import JsonObject, Message
from hearth.request import ChatRequest

FIXTURES = Path(__file__).parents[1] / "fixtures"

ANSWERS = {
    "openai:gpt-4o": "openai/chat_text.json",
    "anthropic:claude-opus-4-1": "anthropic/response_text.json",
    "gemini:gemini-2.5-flash": "gemini/response_text.json",
    "ollama:llama3.2": "ollama/response_text.json",
}


class Recorder:
    """An httpx client whose transport records each request body and answers ``answer``."""

    def __init__(self, answer: str, stream: str = "openai/stream_text.sse") -> None:
        self.bodies: list[JsonObject] = []
        self.answer = (FIXTURES / answer).read_bytes()
        self.stream = (FIXTURES / stream).read_bytes()
        self.client = httpx.Client(transport=httpx.MockTransport(self._handle))
        self.async_client = httpx.AsyncClient(transport=httpx.MockTransport(self._handle))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if body.get("stream"):
            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, content=self.stream, headers=headers)
        headers = {"content-type": "application/json"}
        return httpx.Response(200, content=self.answer, headers=headers)

    def model(self, spec: str) -> hearth.Model:
        return hearth.model(
            spec, api_key="k", http_client=self.client, async_http_client=self.async_client
        )


# What each format's field hearth does not model looks like; the nested ones merge into an
# object hearth writes itself (Gemini's generationConfig, Ollama's options).
EXTRA: dict[str, tuple[dict[str, Any], str]] = {
    "openai:gpt-4o": ({"logit_bias": {"50256": -100}, "user": "u-1"}, "logit_bias"),
    "anthropic:claude-opus-4-1": ({"metadata": {"user_id": "u-1"}}, "metadata"),
    "gemini:gemini-2.5-flash": (
        {"generationConfig": {"responseLogprobs": True}, "labels": {"team": "a"}},
        "generationConfig",
    ),
    "ollama:llama3.2": ({"options": {"num_ctx": 8192}, "keep_alive": "5m"}, "options"),
}


@pytest.mark.parametrize("spec", list(ANSWERS))
def test_extra_body_reaches_the_wire(spec: str) -> None:
    recorder = Recorder(ANSWERS[spec])
    extra, _ = EXTRA[spec]
    m = recorder.model(spec)
    assert m.chat("hi", temperature=0.5, extra_body=extra).text
    (body,) = recorder.bodies
    for key, value in extra.items():
        if key in ("generationConfig", "options"):  # merged beside hearth's own fields
            assert body[key] == {**body[key], **value}
            assert body[key]["temperature"] == 0.5
        else:
            assert body[key] == value
    assert body["messages" if "contents" not in body else "contents"]


def test_extra_body_on_every_call_and_on_the_request() -> None:
    recorder = Recorder(ANSWERS["openai:gpt-4o"])
    m = recorder.model("openai:gpt-4o")
    extra = {"logit_bias": {"1": 5}}
    m.chat("a", extra_body=extra)
    with m.stream("b", extra_body=extra) as s:
        s.response  # noqa: B018 - reads the stream to the end
    asyncio.run(m.achat("c", extra_body=extra))
    assert [b["logit_bias"] for b in recorder.bodies] == [{"1": 5}] * 3
    request = m.request("e", extra_body=extra)
    assert request.extra_body == extra


def test_extra_body_reaches_a_raw_completion() -> None:
    recorder = Recorder("openai/completion_text.json")
    m = hearth.model("openai:gpt-3.5-turbo-instruct", api_key="k", http_client=recorder.client)
    m.complete("Once", max_tokens=4, extra_body={"logprobs": 2})
    (body,) = recorder.bodies
    assert (body["prompt"], body["logprobs"], body["max_tokens"]) == ("Once", 2, 4)


@pytest.mark.parametrize(
    ("spec", "extra", "path"),
    [
        ("openai:gpt-4o", {"temperature": 1.0}, "extra_body.temperature"),
        ("openai:gpt-4o", {"messages": []}, "extra_body.messages"),
        ("anthropic:claude-opus-4-1", {"max_tokens": 9}, "extra_body.max_tokens"),
        (
            "gemini:gemini-2.5-flash",
            {"generationConfig": {"temperature": 1.0}},
            "extra_body.generationConfig.temperature",
        ),
        ("ollama:llama3.2", {"options": {"temperature": 1.0}}, "extra_body.options.temperature"),
        ("ollama:llama3.2", {"options": 3}, "extra_body.options"),
    ],
)
def test_a_field_hearth_sets_is_refused_by_its_path(
    spec: str, extra: JsonObject, path: str
) -> None:
    recorder = Recorder(ANSWERS[spec])
    with pytest.raises(InvalidRequestError, match=f"^{path}: hearth sets this field itself"):
        recorder.model(spec).chat("hi", temperature=0.5, extra_body=extra)
    assert recorder.bodies == []  # refused before anything was sent


def test_merging_copies_what_it_changes() -> None:
    schema: JsonObject = {"type": "object"}
    body: JsonObject = {"a": {"schema": schema}, "b": 1}
    merge_extra(body, {"a": {"schema": {"title": "T"}}, "c": [1]})
    assert body == {"a": {"schema": {"type": "object", "title": "T"}}, "b": 1, "c": [1]}
    assert schema == {"type": "object"}  # the request's own objects are left alone


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ([("a", 1)], "extra_body must be a mapping"),
        ({1: "a"}, "extra_body must be a mapping"),
        ({"a": object()}, "extra_body must hold JSON values only"),
        ({"a": math.nan}, "extra_body must hold JSON values only"),
    ],
)
def test_extra_body_is_checked_when_the_request_is_built(extra: object, needle: str) -> None:
    with pytest.raises(InvalidRequestError, match=needle):
        ChatRequest((Message.user("hi"),), extra_body=extra)  # type: ignore[arg-type]


def test_an_empty_extra_body_changes_nothing() -> None:
    recorder = Recorder(ANSWERS["openai:gpt-4o"])
    m = recorder.model("openai:gpt-4o")
    m.chat("hi")
    m.chat("hi", extra_body={})
    assert recorder.bodies[0] == recorder.bodies[1]


def test_a_local_model_refuses_extra_body(tiny_gguf: TinyGGUF) -> None:
    m = hearth.model(f"local:{tiny_gguf()}")
    with pytest.raises(UnsupportedFeatureError, match=r"local model.*extra_body \(logit_bias\)"):
        m.chat("hi", extra_body={"logit_bias": {"1": 5}})
    with pytest.raises(UnsupportedFeatureError, match="local model"):
        m.complete("Once", extra_body={"n_probs": 3})
