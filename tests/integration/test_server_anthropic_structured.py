"""Anthropic structured outputs through ``hearth serve`` with the real SmolLM2 and the official
``anthropic`` SDK: the answer is a text block of JSON valid against the schema (constrained
decoding), streamed or not; a schema hearth cannot use is an ``anthropic.BadRequestError``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import jsonschema
import pytest
from anthropic.types import MessageParam
from pydantic import BaseModel
from tests.support.served import served

from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 30},
        "country": {"type": "string", "maxLength": 30},
    },
    "required": ["city", "country"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "schema": SCHEMA}
ASK: list[MessageParam] = [
    {"role": "user", "content": "What is the capital of France? Answer with the city and country."}
]
TEMPERATURE = {"temperature": 0}  # the SDK has no temperature argument any more


@pytest.fixture(scope="module")
def claude() -> Iterator[anthropic.Anthropic]:
    settings = ServerSettings(
        models=("local:smollm2",), max_queue=4, timeout=120, backend_options={"n_threads": 2}
    )
    with served(settings) as url:
        yield anthropic.Anthropic(base_url=url, api_key="unused", max_retries=0)


def _valid(text: str) -> dict[str, object]:
    value = json.loads(text)
    jsonschema.validate(value, SCHEMA)
    assert isinstance(value, dict)
    return value


def test_output_config_format_gives_a_json_text_block(claude: anthropic.Anthropic) -> None:
    r = claude.messages.create(
        model="smollm2",
        max_tokens=100,
        messages=ASK,
        output_config={"format": FORMAT},  # type: ignore[typeddict-item]
        extra_body=TEMPERATURE,
    )
    assert [b.type for b in r.content] == ["text"]
    assert r.stop_reason == "end_turn"
    value = _valid(r.content[0].text)  # type: ignore[union-attr]
    assert "paris" in str(value["city"]).lower()


def test_streamed_answer_is_json_valid_against_the_schema(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="smollm2",
        max_tokens=100,
        messages=ASK,
        output_config={"format": FORMAT},  # type: ignore[typeddict-item]
        extra_body=TEMPERATURE,
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1  # streamed, not sent in one piece
    _valid("".join(pieces))
    assert final.stop_reason == "end_turn"
    assert [b.type for b in final.content] == ["text"]


def test_the_beta_output_format_field_works_too(claude: anthropic.Anthropic) -> None:
    r = claude.messages.create(
        model="smollm2",
        max_tokens=100,
        messages=ASK,
        extra_body={"output_format": FORMAT, **TEMPERATURE},
    )
    _valid(r.content[0].text)  # type: ignore[union-attr]


def test_sdk_parse_with_a_pydantic_model(claude: anthropic.Anthropic) -> None:
    class Capital(BaseModel):
        city: str
        country: str

    r = claude.messages.parse(
        model="smollm2", max_tokens=100, messages=ASK, output_format=Capital, extra_body=TEMPERATURE
    )
    assert isinstance(r.parsed_output, Capital)


def test_an_answer_cut_off_stops_with_max_tokens(claude: anthropic.Anthropic) -> None:
    r = claude.messages.create(
        model="smollm2",
        max_tokens=3,
        messages=ASK,
        output_config={"format": FORMAT},  # type: ignore[typeddict-item]
    )
    assert r.stop_reason == "max_tokens"
    assert r.content[0].text.startswith("{")  # type: ignore[union-attr]


LOOKUP = {
    "name": "lookup_capital",
    "description": "The capital city of a country.",
    "input_schema": {
        "type": "object",
        "properties": {"country": {"type": "string", "maxLength": 30}},
        "required": ["country"],
        "additionalProperties": False,
    },
}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_tools_with_a_format_give_tool_use_or_a_json_text_block(
    claude: anthropic.Anthropic, stream: bool
) -> None:
    # As on Anthropic's API: the model may call a tool; when it answers, the text is the JSON.
    for seed in range(3):
        if stream:
            with claude.messages.stream(
                model="smollm2",
                max_tokens=200,
                messages=ASK,
                tools=[LOOKUP],  # type: ignore[list-item]
                output_config={"format": FORMAT},  # type: ignore[typeddict-item]
                extra_body={"temperature": 1.0, "seed": seed},
            ) as events:
                r = events.get_final_message()
        else:
            r = claude.messages.create(
                model="smollm2",
                max_tokens=200,
                messages=ASK,
                tools=[LOOKUP],  # type: ignore[list-item]
                output_config={"format": FORMAT},  # type: ignore[typeddict-item]
                extra_body={"temperature": 1.0, "seed": seed},
            )
        kinds = {b.type for b in r.content}
        if "tool_use" in kinds:
            assert kinds == {"tool_use"} and r.stop_reason == "tool_use", r
            for block in r.content:
                assert block.name == "lookup_capital"  # type: ignore[union-attr]
                jsonschema.validate(block.input, LOOKUP["input_schema"])  # type: ignore[union-attr]
        else:
            assert kinds == {"text"} and r.stop_reason == "end_turn", r
            _valid(r.content[0].text)  # type: ignore[union-attr]


BAD = [
    pytest.param(
        {"output_config": {"format": {"type": "json_schema", "schema": {"type": "objekt"}}}},
        r"output_config\.format\.schema: the JSON schema is not valid",
        id="invalid-schema",
    ),
    pytest.param(
        {"output_format": {"type": "json_schema", "schema": {"not": {"type": "string"}}}},
        r"constrained decoding cannot enforce",
        id="keyword-the-engine-cannot-enforce",
    ),
    pytest.param(
        {"output_config": {"format": FORMAT, "effort": "low"}},
        r"output_config\.effort: hearth has no effort setting",
        id="effort",
    ),
]


@pytest.mark.parametrize(("extra", "message"), BAD)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_what_cannot_be_honoured_is_a_bad_request_error(
    claude: anthropic.Anthropic, extra: dict[str, object], message: str, stream: bool
) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message) as caught:
        claude.messages.create(
            model="smollm2", max_tokens=32, messages=ASK, stream=stream, extra_body=extra
        )
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
