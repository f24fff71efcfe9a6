"""Structured output on the wire, outbound: each remote format's own mechanism, strict mode
only where the schema qualifies, grammars refused; and the Anthropic output tool read back."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from hearth import (
    ChatRequest,
    Done,
    GenerationSettings,
    InvalidRequestError,
    Message,
    OutputFormat,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ToolCallEvent,
    ToolCallPart,
    ToolSpec,
    UnsupportedFeatureError,
    Usage,
)
from hearth.output import output_format
from hearth.response import Response, accumulate
from hearth.wire.anthropic import chat as anthropic
from hearth.wire.anthropic.output import OutputToolAnswer
from hearth.wire.gemini import chat as gemini
from hearth.wire.ollama import chat as ollama
from hearth.wire.openai import chat as openai
from hearth.wire.openai.output import strict_compatible


class City(BaseModel):
    """A city."""

    name: str
    population: int


class StrictCity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    population: int


WEATHER = ToolSpec("get_weather", "Weather.", {"type": "object", "properties": {}})


def req(fmt: OutputFormat, **kw: Any) -> ChatRequest:
    return ChatRequest((Message.user("x"),), response_format=fmt, **kw)


def test_openai_json_schema_not_strict_when_the_schema_does_not_qualify() -> None:
    body = openai.request_to_wire(req(output_format(City)), model="gpt-4o", stream=False)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "City",
            "description": "A city.",
            "schema": output_format(City).schema,
            "strict": False,
        },
    }


def test_openai_strict_when_every_object_is_closed_and_fully_required() -> None:
    fmt = output_format(StrictCity)
    body = openai.request_to_wire(req(fmt), model="gpt-4o", stream=True)
    spec = body["response_format"]["json_schema"]  # type: ignore[call-overload,index]
    assert spec["strict"] is True
    assert spec["name"] == "StrictCity"


@pytest.mark.parametrize(
    ("schema", "strict"),
    [
        ({"type": "object", "properties": {}, "additionalProperties": False}, True),
        ({"type": "array", "items": {"type": "string"}}, False),  # root must be an object
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
             "additionalProperties": False},
            True,
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": [],
             "additionalProperties": False},
            False,  # an optional property
        ),
        (
            {"type": "object", "required": ["xs"], "additionalProperties": False,
             "properties": {"xs": {"type": "array", "items": {"type": "object",
                                                              "properties": {"b": {}}}}}},
            False,  # a nested object left open
        ),
        (
            {"type": "object", "required": ["v"], "additionalProperties": False,
             "properties": {"v": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/P"}]}},
             "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}},
                             "required": ["x"], "additionalProperties": False}}},
            True,
        ),
        (
            {"type": "object", "properties": {}, "additionalProperties": False,
             "allOf": [{"type": "object"}]},
            False,
        ),
    ],
)  # fmt: skip
def test_strict_compatible(schema: dict[str, Any], strict: bool) -> None:
    assert strict_compatible(schema) is strict


def test_openai_json_mode() -> None:
    body = openai.request_to_wire(req(OutputFormat("json")), model="gpt-4o", stream=False)
    assert body["response_format"] == {"type": "json_object"}
    assert "response_format" not in openai.request_to_wire(
        ChatRequest((Message.user("x"),)), model="gpt-4o", stream=False
    )


def test_gemini_uses_the_json_mime_type_and_response_json_schema() -> None:
    fmt = output_format(City)
    settings = GenerationSettings(temperature=0.1)
    body = gemini.request_to_wire(req(fmt, settings=settings), model="g", stream=False)
    assert body["generationConfig"] == {
        "temperature": 0.1,
        "responseMimeType": "application/json",
        "responseJsonSchema": fmt.schema,
    }
    json_only = gemini.request_to_wire(req(OutputFormat("json")), model="g", stream=False)
    assert json_only["generationConfig"] == {"responseMimeType": "application/json"}


def test_gemini_format_reads_back_through_its_inbound_translator() -> None:
    fmt = output_format(City)
    body = gemini.request_to_wire(req(fmt), model="g", stream=False)
    back = gemini.request_from_wire(body, model="g").request
    assert back.response_format is not None
    assert back.response_format.schema == fmt.schema


def test_ollama_format_is_the_schema_or_json() -> None:
    fmt = output_format(City)
    assert ollama.request_to_wire(req(fmt), model="m", stream=False)["format"] == fmt.schema
    body = ollama.request_to_wire(req(OutputFormat("json")), model="m", stream=True)
    assert body["format"] == "json"


def test_anthropic_forces_the_output_tool_without_other_tools() -> None:
    fmt = output_format(City)
    body = anthropic.request_to_wire(req(fmt), model="claude", stream=False)
    assert body["tools"] == [
        {
            "name": "City",
            "description": "A city. Respond by calling this tool: its input is your final answer.",
            "input_schema": fmt.schema,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "City"}


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "any"}),
        ("required", {"type": "any"}),
        ("none", {"type": "tool", "name": "City"}),
        ("get_weather", {"type": "tool", "name": "get_weather"}),
    ],
)
def test_anthropic_output_tool_beside_real_tools(choice: str, wire: dict[str, str]) -> None:
    request = req(output_format(City), tools=(WEATHER,), tool_choice=choice)
    body = anthropic.request_to_wire(request, model="claude", stream=False)
    names = [t["name"] for t in body["tools"]]  # type: ignore[index,union-attr]
    assert names == ["get_weather", "City"]
    assert body["tool_choice"] == wire


def test_anthropic_with_thinking_leaves_the_choice_to_the_model() -> None:
    settings = GenerationSettings(thinking=True)
    body = anthropic.request_to_wire(
        req(output_format(City), settings=settings), model="claude", stream=False
    )
    assert body["tool_choice"] == {"type": "auto"}


def test_anthropic_refuses_a_name_clash_and_a_non_object_schema() -> None:
    clash = req(OutputFormat("json_schema", schema={"type": "object"}, name="get_weather"),
                tools=(WEATHER,))  # fmt: skip
    with pytest.raises(InvalidRequestError, match="another name"):
        anthropic.request_to_wire(clash, model="claude", stream=False)
    with pytest.raises(UnsupportedFeatureError, match="JSON object"):
        anthropic.request_to_wire(req(output_format(list[int])), model="claude", stream=False)


@pytest.mark.parametrize("module", [openai, anthropic, gemini, ollama])
@pytest.mark.parametrize("kind", ["gbnf", "regex"])
def test_every_remote_format_refuses_grammars(module: Any, kind: str) -> None:
    fmt = OutputFormat(kind, grammar='root ::= "a"')  # type: ignore[arg-type]
    with pytest.raises(UnsupportedFeatureError, match=f"{kind} grammar"):
        module.request_to_wire(req(fmt), model="m", stream=False)


def test_output_tool_answer_turns_the_call_into_text() -> None:
    call = ToolCallPart("toolu_1", "City", '{"name": "Oslo", "population": 1}')
    response = Response(Message.assistant([TextPart("Sure: "), call]), "tool_use", Usage(1, 2))
    fixed = OutputToolAnswer("City").response(response)
    assert fixed.text == '{"name": "Oslo", "population": 1}'
    assert fixed.tool_calls == ()
    assert fixed.stop_reason == "end_turn"


def test_output_tool_answer_leaves_real_calls_alone() -> None:
    call = ToolCallPart("toolu_1", "get_weather", "{}")
    response = Response(Message.assistant([TextPart("Let me look."), call]), "tool_use", Usage())
    assert OutputToolAnswer("City").response(response) is response


def test_output_tool_answer_in_a_stream() -> None:
    answer = OutputToolAnswer("City")
    events = [
        ThinkingDelta("hmm"),
        TextDelta("Here it is"),
        ToolCallEvent(ToolCallPart("t1", "City", '{"name": "Rome", "population": 3}')),
        Done("tool_use", Usage(1, 1)),
    ]
    out = answer.events(events[:2]) + answer.events(events[2:])
    assert out == [
        ThinkingDelta("hmm"),
        TextDelta('{"name": "Rome", "population": 3}'),
        Done("end_turn", Usage(1, 1)),
    ]
    # text the model wrote instead of calling the tool is released at the end
    plain = OutputToolAnswer("City").events([TextDelta("{}"), Done("end_turn")])
    assert accumulate(plain).text == "{}"
    # a real tool call keeps the text before it and the tool_use stop
    real = ToolCallEvent(ToolCallPart("t2", "get_weather", "{}"))
    mixed = OutputToolAnswer("City").events([TextDelta("Checking"), real, Done("tool_use")])
    assert mixed == [TextDelta("Checking"), real, Done("tool_use")]
