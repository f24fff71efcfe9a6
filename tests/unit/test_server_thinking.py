"""A reasoning model's thinking through every server format, read by the official SDKs
(openai: Chat Completions and Responses, anthropic, google-genai, ollama), and each format's
thinking switch and budget arriving as the request's settings. FakeBackend scripts behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import ollama
import openai
import pytest
from google import genai
from google.genai import types as gtypes
from tests.support.served import fakes_served

from hearth.backends.base import Capabilities
from hearth.backends.testing import Script
from hearth.events import Done, TextDelta, ThinkingDelta, Usage
from hearth.messages import ThinkingPart

THOUGHT = "Let me add: 12 + 30 = 42."
THINK: Script = [
    ThinkingDelta("Let me add: "),
    ThinkingDelta("12 + 30 = 42."),
    TextDelta("It is "),
    TextDelta("42."),
    Done("end_turn", Usage(7, 12, thinking_tokens=9)),
]
USER = [{"role": "user", "content": "What is 12 + 30?"}]


@pytest.fixture
def serve() -> Iterator[Any]:
    with fakes_served(Capabilities(thinking=True)) as start:
        yield start


def test_openai_chat_completions(serve: Any) -> None:
    url, fake = serve(THINK, THINK, THINK)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    r = client.chat.completions.create(
        model="fake",
        messages=USER,  # type: ignore[arg-type]
        reasoning_effort="high",
        extra_body={"thinking_budget": 64},
    )
    message = r.choices[0].message
    assert message.content == "It is 42."
    assert (message.model_extra or {})["reasoning_content"] == THOUGHT
    assert r.usage is not None and r.usage.completion_tokens_details is not None
    assert r.usage.completion_tokens_details.reasoning_tokens == 9
    settings = fake.requests[0].settings
    assert (settings.thinking, settings.thinking_budget) == (True, 64)

    chunks = list(
        client.chat.completions.create(
            model="fake",
            messages=USER,  # type: ignore[arg-type]
            stream=True,
            extra_body={"chat_template_kwargs": {"enable_thinking": True}},
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    assert "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas) == THOUGHT
    assert "".join(d.content or "" for d in deltas) == "It is 42."
    assert fake.requests[1].settings.thinking is True

    history = [
        *USER,
        {"role": "assistant", "content": "42", "reasoning": "12 + 30 = 42"},  # vLLM's name
        {"role": "user", "content": "And 12 + 31?"},
    ]
    client.chat.completions.create(
        model="fake",
        messages=history,  # type: ignore[arg-type]
        extra_body={"chat_template_kwargs": {"enable_thinking": False}},
    )
    request = fake.requests[2]
    assert request.settings.thinking is False
    assert request.messages[1].parts[0] == ThinkingPart("12 + 30 = 42")


def test_openai_chat_completions_refuses_a_bad_switch(serve: Any) -> None:
    url, _ = serve()
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="enable_thinking: expected true or false"):
        client.chat.completions.create(
            model="fake",
            messages=USER,  # type: ignore[arg-type]
            extra_body={"chat_template_kwargs": {"enable_thinking": "yes"}},
        )


def test_openai_responses(serve: Any) -> None:
    url, fake = serve(THINK, THINK)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    r = client.responses.create(model="fake", input="What is 12 + 30?", reasoning={"effort": "low"})
    kinds = [item.type for item in r.output]
    assert kinds == ["reasoning", "message"]
    reasoning = r.output[0]
    assert reasoning.type == "reasoning" and reasoning.content is not None
    assert "".join(c.text for c in reasoning.content) == THOUGHT
    assert r.output_text == "It is 42."
    assert fake.requests[0].settings.thinking is True
    with client.responses.stream(model="fake", input="again") as stream:
        texts = [e.delta for e in stream if e.type == "response.reasoning_text.delta"]
        final = stream.get_final_response()
    assert "".join(texts) == THOUGHT and final.output_text == "It is 42."


def test_anthropic_thinking_blocks(serve: Any) -> None:
    url, fake = serve(THINK, THINK)
    client = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0)
    r = client.messages.create(
        model="fake",
        max_tokens=2048,
        messages=USER,  # type: ignore[arg-type]
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert [b.type for b in r.content] == ["thinking", "text"]
    assert r.content[0].thinking == THOUGHT  # type: ignore[union-attr]
    assert r.content[1].text == "It is 42."  # type: ignore[union-attr]
    settings = fake.requests[0].settings
    assert (settings.thinking, settings.thinking_budget) == (True, 1024)
    with client.messages.stream(
        model="fake",
        max_tokens=2048,
        messages=USER,  # type: ignore[arg-type]
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        thinking = "".join(e.thinking for e in stream if e.type == "thinking")
        final = stream.get_final_message()
    assert thinking == THOUGHT
    assert [b.type for b in final.content] == ["thinking", "text"]


def test_gemini_thought_parts(serve: Any) -> None:
    url, fake = serve(THINK, THINK)
    options = gtypes.HttpOptions(base_url=url, api_version="v1beta")
    client = genai.Client(api_key="x", http_options=options)
    config = gtypes.GenerateContentConfig(
        thinking_config=gtypes.ThinkingConfig(include_thoughts=True, thinking_budget=64)
    )
    r = client.models.generate_content(model="fake", contents="12 + 30?", config=config)
    parts = r.candidates[0].content.parts  # type: ignore[index, union-attr]
    assert [(bool(p.thought), p.text) for p in parts] == [(True, THOUGHT), (False, "It is 42.")]  # type: ignore[union-attr]
    assert r.usage_metadata is not None and r.usage_metadata.thoughts_token_count == 9
    settings = fake.requests[0].settings
    assert (settings.thinking, settings.thinking_budget) == (True, 64)
    chunks = list(
        client.models.generate_content_stream(model="fake", contents="again", config=config)
    )
    contents = [c.candidates[0].content for c in chunks if c.candidates]
    streamed = [p for content in contents if content for p in content.parts or []]
    assert "".join(p.text or "" for p in streamed if p.thought) == THOUGHT


def test_ollama_thinking(serve: Any) -> None:
    url, fake = serve(THINK, THINK, THINK)
    client = ollama.Client(host=url)
    r = client.chat(model="fake", messages=USER, think=True)
    assert r.message.thinking == THOUGHT and r.message.content == "It is 42."
    assert fake.requests[0].settings.thinking is True
    chunks = list(client.chat(model="fake", messages=USER, think=True, stream=True))
    assert "".join(c.message.thinking or "" for c in chunks) == THOUGHT
    assert "".join(c.message.content or "" for c in chunks) == "It is 42."
    g = client.generate(model="fake", prompt="What is 12 + 30?", think=False)
    assert fake.requests[2].settings.thinking is False
    assert g.thinking == THOUGHT  # the scripted model thinks anyway; the field carries it


def test_hearth_as_a_client_sends_the_switch_to_servers_that_run_templates() -> None:
    from hearth.messages import Message
    from hearth.request import ChatRequest
    from hearth.settings import GenerationSettings
    from hearth.wire.openai.chat import request_to_wire
    from hearth.wire.openai.inbound import request_from_wire

    settings = GenerationSettings(thinking=False, thinking_budget=32)
    request = ChatRequest((Message.user("hi"),), settings=settings)
    body = request_to_wire(request, model="m", stream=False, sampler_extensions=True)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["thinking_budget"] == 32
    back = request_from_wire(body).request.settings  # what hearth serve reads
    assert (back.thinking, back.thinking_budget) == (False, 32)
    plain = request_to_wire(request, model="m", stream=False)  # api.openai.com has neither
    assert "chat_template_kwargs" not in plain and "thinking_budget" not in plain
