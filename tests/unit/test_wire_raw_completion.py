"""The raw text completion translators, on recorded transcripts: OpenAI's legacy ``/completions``
(:mod:`hearth.wire.openai.completions`: OpenAI, vLLM, llama-server) and Ollama's
``/api/generate`` with ``raw: true`` (:mod:`hearth.wire.ollama.generate`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hearth._sse import NDJSONDecoder, SSEDecoder
from hearth.errors import (
    ContextLengthExceededError,
    HearthError,
    ModelNotFoundError,
    ProviderError,
    ServerError,
    UnsupportedFeatureError,
)
from hearth.events import Done, StreamEvent, TextDelta, Usage
from hearth.messages import JsonObject, Message
from hearth.request import ChatRequest, OutputFormat
from hearth.response import accumulate
from hearth.settings import GenerationSettings
from hearth.wire.ollama import generate as ollama_generate
from hearth.wire.openai import completions as openai_completions

FIXTURES = Path(__file__).parents[1] / "fixtures"
SCHEMA: JsonObject = {
    "type": "object",
    "properties": {"n": {"type": "integer"}},
    "required": ["n"],
    "additionalProperties": False,
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def sse(name: str) -> list[JsonObject]:
    decoder = SSEDecoder()
    frames = decoder.feed((FIXTURES / name).read_bytes()) + decoder.finish()
    return [json.loads(f.data) for f in frames if f.data != "[DONE]"]


def ndjson(name: str) -> list[JsonObject]:
    decoder = NDJSONDecoder()
    return decoder.feed((FIXTURES / name).read_bytes()) + decoder.finish()


def decode_completions(name: str, provider: str = "openai") -> list[StreamEvent]:
    decoder = openai_completions.StreamDecoder(provider=provider)
    return [e for chunk in sse(name) for e in decoder.feed(chunk)] + decoder.finish()


def decode_generate(name: str) -> list[StreamEvent]:
    decoder = ollama_generate.StreamDecoder()
    return [e for line in ndjson(name) for e in decoder.feed(line)] + decoder.finish()


def raw(prompt: str = "1, 2, 3, 4,", **settings: Any) -> ChatRequest:
    return ChatRequest(prompt=prompt, settings=GenerationSettings(**settings))


# -- OpenAI legacy completions: requests ---------------------------------------------------------


def test_the_body_carries_the_raw_prompt_and_the_settings() -> None:
    request = raw(max_tokens=9, temperature=0.0, top_p=0.5, seed=3, stop=(" 8",), top_k=4)
    body = openai_completions.request_to_wire(request, model="gpt-3.5-turbo-instruct", stream=False)
    assert body == {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "1, 2, 3, 4,",
        "temperature": 0.0,
        "top_p": 0.5,
        "seed": 3,
        "max_tokens": 9,  # this API's name, never max_completion_tokens
        "stop": [" 8"],
    }  # no messages, no template fields; top_k only with sampler extensions
    streamed = openai_completions.request_to_wire(
        request, model="m", stream=True, sampler_extensions=True
    )
    assert streamed["stream"] is True and streamed["stream_options"] == {"include_usage": True}
    assert streamed["top_k"] == 4


def test_response_format_goes_where_each_server_takes_it() -> None:
    request = ChatRequest(prompt="x", response_format=OutputFormat("json_schema", SCHEMA, name="n"))
    vllm = openai_completions.request_to_wire(
        request, model="m", stream=False, output="response_format"
    )
    assert vllm["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "n", "schema": SCHEMA, "strict": True},
    }
    llama = openai_completions.request_to_wire(
        request, model="m", stream=False, output="json_schema"
    )
    assert llama["json_schema"] == SCHEMA and "response_format" not in llama
    any_json = ChatRequest(prompt="x", response_format=OutputFormat("json"))
    assert openai_completions.request_to_wire(
        any_json, model="m", stream=False, output="json_schema"
    )["json_schema"] == {"type": "object"}
    assert openai_completions.request_to_wire(
        any_json, model="m", stream=False, output="response_format"
    )["response_format"] == {"type": "json_object"}


def test_response_format_is_refused_where_the_api_has_none() -> None:
    request = ChatRequest(prompt="x", response_format=OutputFormat("json"))
    with pytest.raises(
        UnsupportedFeatureError, match=r"has no response_format\); leave response_format out"
    ):
        openai_completions.request_to_wire(request, model="gpt-3.5-turbo-instruct", stream=False)
    grammar = ChatRequest(prompt="x", response_format=OutputFormat("gbnf", grammar='root ::= "a"'))
    with pytest.raises(UnsupportedFeatureError, match="gbnf grammar"):
        openai_completions.request_to_wire(grammar, model="m", stream=False, output="json_schema")


def test_a_chat_request_is_not_a_completions_body() -> None:
    with pytest.raises(ValueError, match="raw-prompt request"):
        openai_completions.request_to_wire(
            ChatRequest((Message.user("hi"),)), model="m", stream=False
        )


# -- OpenAI legacy completions: answers ----------------------------------------------------------


def test_openai_documented_answer() -> None:
    r = openai_completions.response_from_wire(load("openai/completion_text.json"))
    assert r.text == "\n\nThis is indeed a test"
    assert r.stop_reason == "max_tokens" and r.stop_sequence is None
    assert r.usage == Usage(5, 7)
    assert r.model == "gpt-3.5-turbo-instruct" and r.response_id == "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7"


def test_vllm_names_the_stop_string() -> None:
    r = openai_completions.response_from_wire(load("openai/completion_vllm_stop.json"))
    assert r.text == " 5, 6, 7,"
    assert r.stop_reason == "stop_sequence" and r.stop_sequence == " 8"
    assert r.usage == Usage(8, 6)


def test_an_empty_completion_and_a_plain_stop() -> None:
    body = {"choices": [{"index": 0, "text": "", "finish_reason": "stop", "stop_reason": None}]}
    r = openai_completions.response_from_wire(body)
    assert r.text == "" and r.message.parts == () and r.stop_reason == "end_turn"


def test_an_answer_without_choices_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="no choices"):
        openai_completions.response_from_wire({"object": "text_completion", "choices": []})


def test_openai_stream_with_usage_after_the_finish_reason() -> None:
    events = decode_completions("openai/completion_stream.sse")
    assert [e.text for e in events if isinstance(e, TextDelta)] == [" 5", ", 6", ", 7 — café"]
    assert events[-1] == Done(
        "max_tokens",
        Usage(8, 9),
        model="gpt-3.5-turbo-instruct",
        response_id="cmpl-7iA7iJjj8V2zOkCGvWF2hAkDWBQZe",
    )
    assert accumulate(events).text == " 5, 6, 7 — café"


def test_llama_server_stream_with_usage_in_the_finish_chunk() -> None:
    events = decode_completions("openai/completion_stream_llama_server.sse", "llama-server")
    r = accumulate(events)
    assert r.text == " 5, 6, 7," and r.stop_reason == "end_turn" and r.usage == Usage(8, 7)
    assert sum(isinstance(e, Done) for e in events) == 1


def test_a_cut_stream_says_so() -> None:
    with pytest.raises(ProviderError, match="ended before its finish_reason chunk"):
        decode_completions("openai/completion_stream_cut.sse", "vllm")


def test_an_error_chunk_midway_raises_the_mapped_error() -> None:
    decoder = openai_completions.StreamDecoder(provider="vllm")
    first, error = sse("openai/completion_stream_error_midway.sse")
    assert decoder.feed(first) == [TextDelta(" 5")]
    with pytest.raises(ServerError, match="the stream failed midway: vllm answered 500"):
        decoder.feed(error)


# -- OpenAI legacy completions: errors -----------------------------------------------------------


def test_a_chat_model_on_the_completions_route_is_unsupported_not_missing() -> None:
    body = load("openai/error_completions_chat_model.json")
    exc = openai_completions.error_from_wire(404, body, {})
    assert isinstance(exc, UnsupportedFeatureError)
    assert "chat model" in str(exc) and "send messages" in str(exc)


@pytest.mark.parametrize(
    ("name", "status", "kind"),
    [
        ("error_404.json", 404, ModelNotFoundError),
        ("error_500.json", 500, ServerError),
        ("error_context_length.json", 400, ContextLengthExceededError),
    ],
)
def test_other_errors_map_as_for_chat(name: str, status: int, kind: type[HearthError]) -> None:
    exc = openai_completions.error_from_wire(status, load(f"openai/{name}"), {}, provider="vllm")
    assert isinstance(exc, kind) and not isinstance(exc, UnsupportedFeatureError)


def test_hearth_serves_unsupported_feature_code_is_that_error() -> None:
    body = {
        "error": {"message": "no", "type": "invalid_request_error", "code": "unsupported_feature"}
    }
    assert isinstance(
        openai_completions.error_from_wire(400, body, {}, provider="hearth"),
        UnsupportedFeatureError,
    )


# -- Ollama /api/generate, raw -------------------------------------------------------------------


def test_generate_body_is_raw_with_options_and_format() -> None:
    request = ChatRequest(
        prompt="1, 2, 3, 4,",
        settings=GenerationSettings(max_tokens=9, temperature=0.0, stop=(" 8",), thinking=True),
        response_format=OutputFormat("json_schema", SCHEMA),
    )
    body = ollama_generate.request_to_wire(request, model="llama3.2", stream=True)
    assert body == {
        "model": "llama3.2",
        "prompt": "1, 2, 3, 4,",
        "raw": True,  # no template
        "stream": True,
        "format": SCHEMA,
        "options": {"temperature": 0.0, "num_predict": 9, "stop": [" 8"]},
    }  # no think: a raw prompt has no template to switch reasoning on
    plain = ollama_generate.request_to_wire(raw(), model="m", stream=False)
    assert plain == {"model": "m", "prompt": "1, 2, 3, 4,", "raw": True, "stream": False}
    with pytest.raises(UnsupportedFeatureError, match="regex grammar"):
        ollama_generate.request_to_wire(
            ChatRequest(prompt="x", response_format=OutputFormat("regex", grammar="a+")),
            model="m",
            stream=False,
        )


def test_generate_answer() -> None:
    r = ollama_generate.response_from_wire(load("ollama/generate_raw.json"))
    assert r.text == " 5, 6, 7, 8, 9" and r.stop_reason == "end_turn"
    assert r.usage == Usage(8, 12) and r.model == "llama3.2"


def test_generate_stream_to_the_length_limit() -> None:
    events = decode_generate("ollama/generate_raw_length.ndjson")
    assert [e.text for e in events if isinstance(e, TextDelta)] == [" 5", ", 6", ", 7 — café"]
    assert events[-1] == Done("max_tokens", Usage(8, 9), model="llama3.2")


def test_generate_thinking_comes_out_as_thinking() -> None:
    r = ollama_generate.response_from_wire(
        {"response": "4", "thinking": "2+2", "done": True, "done_reason": "stop"}
    )
    assert r.thinking == "2+2" and r.text == "4"


def test_generate_errors() -> None:
    decoder = ollama_generate.StreamDecoder()
    first, error = ndjson("ollama/generate_error_midstream.ndjson")
    assert decoder.feed(first) == [TextDelta(" 5")]
    with pytest.raises(ServerError, match="llama runner process has terminated"):
        decoder.feed(error)
    with pytest.raises(ProviderError, match="stream ended before done"):
        decode_generate("ollama/generate_truncated.ndjson")
    with pytest.raises(ModelNotFoundError) as info:
        ollama_generate.response_from_wire({"error": "model 'llama9' not found", "status": 404})
    assert info.value.model == "llama9"
    unsupported = ollama_generate.error_from_wire(
        400, {"error": '"all-minilm" does not support generate'}, {}
    )
    assert isinstance(unsupported, UnsupportedFeatureError)
