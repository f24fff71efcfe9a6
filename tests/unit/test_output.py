"""Structured output: response_format in, Response.parsed out, OutputValidationError on a bad
answer; tools= and tool_choice= reach the request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from pydantic import BaseModel, Field

import hearth
from hearth import (
    Done,
    InvalidRequestError,
    Model,
    OutputFormat,
    OutputValidationError,
    TextDelta,
    ToolCallEvent,
    ToolCallPart,
    ToolSpec,
    Usage,
)
from hearth.backends.testing import FakeBackend
from hearth.messages import JsonObject
from hearth.output import output_format, parse_output, structured_output


class City(BaseModel):
    """A city and how many live there."""

    name: str
    population: int = Field(ge=0)


CITY_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
    "required": ["name", "population"],
}


def answer(*pieces: str, stop: str = "end_turn") -> list[object]:
    return [*(TextDelta(p) for p in pieces), Done(stop, Usage(3, len(pieces)))]  # type: ignore[arg-type]


def test_pydantic_class_becomes_a_named_json_schema_format() -> None:
    fmt = output_format(City)
    assert fmt.kind == "json_schema"
    assert fmt.name == "City"
    assert fmt.description == "A city and how many live there."
    assert fmt.schema == {
        "type": "object",
        "description": "A city and how many live there.",
        "properties": {
            "name": {"type": "string"},
            "population": {"type": "integer", "minimum": 0},
        },
        "required": ["name", "population"],
    }


def test_chat_with_a_pydantic_class_returns_the_instance() -> None:
    fake = FakeBackend([answer('{"name": "Tokyo", ', '"population": 37400000}')])
    r = Model(fake).chat("Largest city in Japan?", response_format=City)
    assert r.parsed == City(name="Tokyo", population=37400000)
    assert fake.requests[0].response_format == output_format(City)


def test_parse_returns_the_instance_directly() -> None:
    m = Model(FakeBackend([answer('{"name": "Oslo", "population": 700000}')]))
    city = m.parse("Capital of Norway?", City)
    assert isinstance(city, City)
    assert city.name == "Oslo"

    async def go() -> object:
        m2 = Model(FakeBackend([answer('{"name": "Rome", "population": 2800000}')]))
        return await m2.aparse("Capital of Italy?", City)

    assert asyncio.run(go()) == City(name="Rome", population=2800000)


def test_a_schema_dict_is_validated_with_jsonschema_and_parsed_is_json() -> None:
    fake = FakeBackend([answer('{"name": "Lima", "population": 10000000}')])
    r = Model(fake).chat("x", response_format=CITY_SCHEMA)
    assert r.parsed == {"name": "Lima", "population": 10000000}
    fmt = fake.requests[0].response_format
    assert fmt == OutputFormat("json_schema", schema=CITY_SCHEMA, name="output")


def test_an_answer_that_does_not_validate_raises_with_the_raw_text() -> None:
    raw = '{"name": "Atlantis", "population": -5}'
    with pytest.raises(OutputValidationError, match="population") as info:
        Model(FakeBackend([answer(raw)])).chat("x", response_format=City)
    assert info.value.raw == raw
    assert info.value.errors
    with pytest.raises(OutputValidationError, match=r"\$.population: -5 is less than") as info2:
        Model(FakeBackend([answer(raw)])).chat("x", response_format=CITY_SCHEMA)
    assert info2.value.raw == raw


def test_text_that_is_not_json_raises_and_a_cut_off_answer_says_why() -> None:
    with pytest.raises(OutputValidationError, match="not valid JSON") as info:
        Model(FakeBackend([answer("Tokyo, I think")])).chat("x", response_format=CITY_SCHEMA)
    assert info.value.raw == "Tokyo, I think"
    with pytest.raises(OutputValidationError, match="cut off at max_tokens"):
        Model(FakeBackend([answer('{"name": "To', stop="max_tokens")])).chat(
            "x", response_format=City
        )


def test_a_fenced_json_answer_is_accepted() -> None:
    text = '```json\n{"name": "Cairo", "population": 10000000}\n```'
    assert parse_output(text, City) == City(name="Cairo", population=10000000)


def test_json_mode_needs_an_object() -> None:
    assert parse_output('{"a": [1, 2]}', "json") == {"a": [1, 2]}
    assert output_format("json") == OutputFormat("json")
    with pytest.raises(OutputValidationError, match="not an object"):
        parse_output("[1, 2]", "json")


def test_other_types_pydantic_can_validate() -> None:
    @dataclass
    class Point:
        x: float
        y: float

    assert parse_output('{"x": 1, "y": 2.5}', Point) == Point(1.0, 2.5)
    assert parse_output("[1, 2, 3]", list[int]) == [1, 2, 3]
    assert output_format(list[int]).schema == {"type": "array", "items": {"type": "integer"}}


def test_grammars_parse_to_the_text() -> None:
    fmt = OutputFormat("regex", grammar=r"\d+")
    assert structured_output(fmt).parse("123") == "123"


def test_bad_response_formats_are_refused_before_the_call() -> None:
    fake = FakeBackend([])
    with pytest.raises(InvalidRequestError, match="JSON schema is not valid"):
        Model(fake).chat("x", response_format={"type": "objekt"})
    with pytest.raises(InvalidRequestError, match="response_format must be"):
        Model(fake).chat("x", response_format=42)  # type: ignore[arg-type]
    assert fake.requests == []


def test_stream_response_is_parsed_at_the_end() -> None:
    m = Model(FakeBackend([answer('{"name": "Bern", ', '"population": 140000}')]))
    with m.stream("x", response_format=City) as s:
        assert "".join(s.text_stream) == '{"name": "Bern", "population": 140000}'
        assert s.response.parsed == City(name="Bern", population=140000)

    async def go() -> object:
        m2 = Model(FakeBackend([answer('{"name": "Baku", "population": 2300000}')]))
        async with m2.astream("x", response_format=City) as s2:
            return (await s2.get_response()).parsed

    assert asyncio.run(go()) == City(name="Baku", population=2300000)


def test_an_answer_with_tool_calls_is_not_parsed() -> None:
    call = ToolCallPart("c1", "lookup", '{"q": "x"}')
    fake = FakeBackend([[ToolCallEvent(call), Done("tool_use")]])
    r = Model(fake).chat("x", response_format=City, tools=[lookup_tool()])
    assert r.parsed is None
    assert r.tool_calls == (call,)


def lookup_tool() -> hearth.Tool:
    @hearth.tool
    def lookup(q: str) -> str:
        """Look something up."""
        return q

    return lookup


def test_tools_of_every_form_become_specs_and_tool_choice_takes_a_tool() -> None:
    lookup = lookup_tool()

    def ping() -> str:
        """Ping."""
        return "pong"

    raw = ToolSpec("raw", "Raw.", {"type": "object", "properties": {}})
    fake = FakeBackend([answer("ok")])
    Model(fake).chat("x", tools=[lookup, ping, City, raw], tool_choice=lookup)
    (req,) = fake.requests
    assert [t.name for t in req.tools] == ["lookup", "ping", "City", "raw"]
    assert req.tools[0] == lookup.spec
    assert req.tools[3] is raw
    assert req.tool_choice == "lookup"
    with pytest.raises(InvalidRequestError, match="names no tool"):
        Model(FakeBackend([])).request("x", tools=[lookup], tool_choice="other")


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/missing"},
        {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "items": {"$ref": "#/definitions/q"},
        },
    ],
)
def test_a_reference_to_nothing_is_refused_before_the_call(schema: JsonObject) -> None:
    fake = FakeBackend([answer('"x"')])
    with pytest.raises(InvalidRequestError, match=r"\$ref .* points to nothing in the schema"):
        Model(fake).chat("x", response_format=schema)
    assert fake.requests == []


def test_references_inside_the_schema_and_data_that_looks_like_one_are_fine() -> None:
    schema: JsonObject = {
        "$defs": {"name": {"type": "string"}, "tree": {"type": "array", "items": {"$ref": "#"}}},
        "type": "object",
        "properties": {
            "n": {"$ref": "#/$defs/name"},
            "$ref": {"enum": [{"$ref": "not a reference"}]},
            "nested": {"$id": "https://example.com/other", "$ref": "elsewhere.json"},
        },
    }
    m = Model(FakeBackend([answer('{"n": "Bern"}')]))
    assert m.chat("x", response_format=schema).parsed == {"n": "Bern"}
