"""Tools and structured output end to end through Model.chat on every remote backend:
httpx.MockTransport answering with recorded wire bodies, the request bodies checked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

import hearth
from hearth import Message, Model, Tool, ToolResultPart

FIXTURES = Path(__file__).parents[1] / "fixtures"
KEY = "test-key-0123456789"
BASE = "http://remote.test"


class City(BaseModel):
    name: str
    population: int


TOKYO = City(name="Tokyo", population=37400000)


class Recorder:
    """A MockTransport handler: answers with queued bodies, keeps the requests' JSON."""

    def __init__(self, *replies: tuple[str, str]) -> None:
        self.replies = list(replies)  # (fixture path, content type)
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        self.paths.append(request.url.path)
        path, content_type = self.replies.pop(0)
        data = (FIXTURES / path).read_bytes()
        return httpx.Response(200, content=data, headers={"content-type": content_type})


def remote(provider: str, recorder: Recorder, model: str = "m") -> Model:
    transport = httpx.MockTransport(recorder)
    return hearth.model(
        f"{provider}:{model}",
        api_key=KEY,
        base_url=BASE,
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
    )


JSON = "application/json"
SSE = "text/event-stream"


def _openai(body: dict[str, Any]) -> None:
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "City"


def _anthropic(body: dict[str, Any]) -> None:
    assert body["tool_choice"] == {"type": "tool", "name": "City"}
    assert [t["name"] for t in body["tools"]] == ["City"]


def _gemini(body: dict[str, Any]) -> None:
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"]["required"] == ["name", "population"]


def _ollama(body: dict[str, Any]) -> None:
    assert body["format"]["properties"]["population"] == {"type": "integer"}


def _responses(body: dict[str, Any]) -> None:
    fmt = body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["name"] == "City"
    assert fmt["schema"]["required"] == ["name", "population"]
    assert fmt["strict"] is False  # not closed with additionalProperties: false


@pytest.mark.parametrize(
    ("provider", "fixture", "check"),
    [
        ("openai", "structured/openai_chat_json_schema.json", _openai),
        ("anthropic", "structured/anthropic_response_output_tool.json", _anthropic),
        ("gemini", "structured/gemini_response_json.json", _gemini),
        ("ollama", "structured/ollama_response_format.json", _ollama),
        ("openai-responses", "responses/response_json_schema.json", _responses),
    ],
)
def test_chat_with_a_pydantic_response_format(
    provider: str, fixture: str, check: Callable[[dict[str, Any]], None]
) -> None:
    rec = Recorder((fixture, JSON))
    r = remote(provider, rec).chat("The largest city in Japan?", response_format=City)
    assert r.parsed == TOKYO
    assert r.stop_reason == "end_turn"
    assert json.loads(r.text) == TOKYO.model_dump()
    check(rec.bodies[0])


def test_anthropic_streams_the_output_tool_as_text() -> None:
    rec = Recorder(("structured/anthropic_stream_output_tool.sse", SSE))
    with remote("anthropic", rec).stream("x", response_format=City) as s:
        text = "".join(s.text_stream)
        assert json.loads(text) == TOKYO.model_dump()
        assert s.response.parsed == TOKYO
        assert s.response.tool_calls == ()
        assert s.response.stop_reason == "end_turn"
    assert rec.bodies[0]["stream"] is True


def test_openai_stream_and_async_parse() -> None:
    rec = Recorder(
        ("structured/openai_stream_json_schema.sse", SSE),
        ("structured/openai_chat_json_schema.json", JSON),
    )
    m = remote("openai", rec)

    async def go() -> tuple[object, City]:
        async with m.astream("x", response_format=City) as s:
            streamed = (await s.get_response()).parsed
        return streamed, await m.aparse("x", City)

    assert asyncio.run(go()) == (TOKYO, TOKYO)


def test_a_schema_dict_on_gemini_gives_json() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["name"],
    }
    rec = Recorder(("structured/gemini_response_json.json", JSON))
    assert remote("gemini", rec).parse("x", schema) == TOKYO.model_dump()
    assert rec.bodies[0]["generationConfig"]["responseJsonSchema"] == schema


def test_a_grammar_is_refused_before_any_request() -> None:
    rec = Recorder()
    fmt = hearth.OutputFormat("regex", grammar=r"\d+")
    with pytest.raises(hearth.UnsupportedFeatureError):
        remote("openai", rec).chat("x", response_format=fmt)
    assert rec.bodies == []


# -- tools: every choice and parallel calls, through Tool objects --------------------------------


def weather_tools() -> list[Tool]:
    @hearth.tool
    def get_weather(location: str) -> str:
        """The weather somewhere."""
        return f"sunny in {location}"

    @hearth.tool
    def get_time(timezone: str) -> str:
        """The time in a timezone."""
        return f"12:00 in {timezone}"

    @hearth.tool
    def get_current_weather(location: str, format: str = "celsius") -> dict[str, object]:
        """The weather, in a unit."""
        return {"location": location, "temp": 21, "unit": format}

    @hearth.tool
    def power_disco_ball(power: bool) -> str:
        """Disco ball on or off."""
        return "on" if power else "off"

    @hearth.tool
    def start_music(energetic: bool, loud: bool) -> str:
        """Music."""
        return "playing"

    @hearth.tool
    def dim_lights(brightness: float) -> str:
        """Lights."""
        return f"dimmed to {brightness}"

    return [get_weather, get_time, get_current_weather, power_disco_ball, start_music,
            dim_lights]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "fixture", "reply", "names"),
    [
        ("openai", "openai/chat_parallel_tool_calls.json", "openai/chat_text.json",
         ["get_weather", "get_weather"]),
        ("anthropic", "anthropic/response_parallel_tools.json", "anthropic/response_text.json",
         ["get_weather", "get_weather", "get_time"]),
        ("gemini", "gemini/response_parallel_calls.json", "gemini/response_text.json",
         ["power_disco_ball", "start_music", "dim_lights"]),
        ("ollama", "ollama/response_tool_calls.json", "ollama/response_text.json",
         ["get_current_weather", "get_current_weather"]),
        ("openai-responses", "responses/response_parallel_calls.json",
         "responses/response_text.json", ["get_weather", "get_weather"]),
    ],
)  # fmt: skip
def test_parallel_tool_calls_run_and_their_results_go_back(
    provider: str, fixture: str, reply: str, names: list[str]
) -> None:
    tools = {t.name: t for t in weather_tools()}
    rec = Recorder((fixture, JSON), (reply, JSON))
    m = remote(provider, rec)
    question = Message.user("What is going on?")
    first = m.chat(question, tools=tools.values(), tool_choice="required")
    assert first.stop_reason == "tool_use"
    assert [c.name for c in first.tool_calls] == names
    results = []
    for call in first.tool_calls:
        result = tools[call.name].run(call.arguments)
        assert not result.is_error, result.content
        results.append(ToolResultPart(call.id, result.content, name=call.name))
    final = m.chat([question, first.message, Message.tool(*results)], tools=tools.values())
    assert final.text
    sent_tools, sent_back = rec.bodies
    assert json.dumps(sent_back).count(results[0].content.replace('"', '\\"')) >= 1
    assert len(sent_tools["tools"] if provider != "gemini" else
               sent_tools["tools"][0]["functionDeclarations"]) == len(tools)  # fmt: skip


CHOICES: dict[str, dict[str, Any]] = {
    # provider: {choice: what the body carries}
    "openai": {"auto": None, "required": "required", "none": "none",
               "get_time": {"type": "function", "function": {"name": "get_time"}}},
    "anthropic": {"auto": {"type": "auto"}, "required": {"type": "any"},
                  "none": {"type": "none"}, "get_time": {"type": "tool", "name": "get_time"}},
    "gemini": {"auto": None, "required": {"functionCallingConfig": {"mode": "ANY"}},
               "none": {"functionCallingConfig": {"mode": "NONE"}},
               "get_time": {"functionCallingConfig": {"mode": "ANY",
                                                      "allowedFunctionNames": ["get_time"]}}},
    "openai-responses": {"auto": None, "required": "required", "none": "none",
                         "get_time": {"type": "function", "name": "get_time"}},
}  # fmt: skip
REPLIES = {
    "openai": "openai/chat_text.json",
    "anthropic": "anthropic/response_text.json",
    "gemini": "gemini/response_text.json",
    "openai-responses": "responses/response_text.json",
}
CHOICE_FIELD = {"openai": "tool_choice", "anthropic": "tool_choice", "gemini": "toolConfig",
                "openai-responses": "tool_choice"}  # fmt: skip


@pytest.mark.parametrize("provider", sorted(CHOICES))
@pytest.mark.parametrize("choice", ["auto", "required", "none", "get_time"])
def test_tool_choice_reaches_the_wire(provider: str, choice: str) -> None:
    tools = weather_tools()[:2]
    rec = Recorder((REPLIES[provider], JSON))
    chosen: Any = tools[1] if choice == "get_time" else choice  # a Tool names itself
    remote(provider, rec).chat("x", tools=tools, tool_choice=chosen)
    body = rec.bodies[0]
    expected = CHOICES[provider][choice]
    assert body.get(CHOICE_FIELD[provider]) == expected


def test_ollama_sends_no_tools_for_tool_choice_none() -> None:
    rec = Recorder(("ollama/response_text.json", JSON), ("ollama/response_text.json", JSON))
    m = remote("ollama", rec)
    m.chat("x", tools=weather_tools()[:1], tool_choice="none")
    m.chat("x", tools=weather_tools()[:1])
    assert "tools" not in rec.bodies[0]
    assert rec.bodies[1]["tools"][0]["function"]["name"] == "get_weather"


def test_a_bad_call_from_the_model_becomes_an_error_result_it_can_read() -> None:
    tools = {t.name: t for t in weather_tools()}
    call = hearth.ToolCallPart("c1", "dim_lights", '{"brightness": "very"}')
    result = tools[call.name].run(call.arguments)
    assert result.is_error
    assert "brightness: Input should be a valid number" in result.content


def test_ollama_sends_only_the_named_tool() -> None:
    rec = Recorder(("ollama/response_text.json", JSON))
    tools = weather_tools()[:2]
    remote("ollama", rec).chat("x", tools=tools, tool_choice="get_time")
    assert [t["function"]["name"] for t in rec.bodies[0]["tools"]] == ["get_time"]
