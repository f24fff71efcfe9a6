"""The official SDKs parse what the server sends, with FakeBackend scripts behind it (so tool
calls, usage and errors are exact): openai, anthropic and google-genai, plain and streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes
from tests.support.served import fakes_served

from hearth.backends.testing import Script
from hearth.errors import ContextLengthExceededError
from hearth.events import Done, TextDelta, ToolCallEvent, Usage
from hearth.messages import ToolCallPart

TEXT: Script = [TextDelta("Par"), TextDelta("is"), Done("end_turn", Usage(7, 2))]
CALL: Script = [
    ToolCallEvent(ToolCallPart("call_7", "get_weather", '{"city": "Paris"}')),
    Done("tool_use", Usage(9, 6)),
]
TOO_LONG: Script = [ContextLengthExceededError(9000, 2048)]
USER = [{"role": "user", "content": "capital of France?"}]


@pytest.fixture
def serve() -> Iterator[object]:
    with fakes_served() as start:
        yield lambda *scripts: start(*scripts)[0]


def test_openai_sdk(serve: object) -> None:
    url = serve(TEXT, TEXT, CALL, TOO_LONG)  # type: ignore[operator]
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    r = client.chat.completions.create(model="fake", messages=USER)  # type: ignore[arg-type]
    assert r.choices[0].message.content == "Paris" and r.usage.completion_tokens == 2  # type: ignore[union-attr]
    chunks = list(
        client.chat.completions.create(
            model="fake", messages=USER, stream=True, stream_options={"include_usage": True}
        )  # type: ignore[call-overload]
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris"
    assert chunks[-1].usage.prompt_tokens == 7
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    r = client.chat.completions.create(model="fake", messages=USER, tools=tools)  # type: ignore[arg-type]
    call = r.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.id == "call_7" and json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="fake", messages=USER, stream=True)  # type: ignore[call-overload]
    assert caught.value.code == "context_length_exceeded"


def test_anthropic_sdk(serve: object) -> None:
    url = serve(TEXT, CALL, TOO_LONG)  # type: ignore[operator]
    client = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0)
    r = client.messages.create(model="fake", max_tokens=16, messages=USER)  # type: ignore[arg-type]
    assert r.content[0].text == "Paris" and r.usage.output_tokens == 2  # type: ignore[union-attr]
    with client.messages.stream(model="fake", max_tokens=16, messages=USER) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    block = final.content[0]
    assert block.type == "tool_use" and block.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        client.messages.create(model="fake", max_tokens=16, messages=USER)  # type: ignore[arg-type]


def test_google_genai_sdk(serve: object) -> None:
    url = serve(TEXT, TEXT, CALL)  # type: ignore[operator]
    options = gtypes.HttpOptions(base_url=url, api_version="v1beta")
    client = genai.Client(api_key="x", http_options=options)
    r = client.models.generate_content(model="fake", contents="capital of France?")
    assert r.text == "Paris" and r.usage_metadata.candidates_token_count == 2  # type: ignore[union-attr]
    chunks = list(client.models.generate_content_stream(model="fake", contents="hi"))
    assert "".join(c.text or "" for c in chunks) == "Paris"
    r = client.models.generate_content(model="fake", contents="weather?")
    assert r.function_calls[0].name == "get_weather"  # type: ignore[index]
    assert r.function_calls[0].args == {"city": "Paris"}  # type: ignore[index]
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_content(model="gemini-9", contents="hi")
    assert caught.value.code == 404
