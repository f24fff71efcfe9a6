"""Anthropic structured outputs on the server's /v1/messages: ``output_config.format`` (and the
beta's top-level ``output_format``) becomes ``ChatRequest.response_format``; what hearth cannot
honour in ``output_config`` is refused by name; the answer is an ordinary text block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.test_server_live import live

from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.events import Done, TextDelta, Usage
from hearth.messages import JsonObject, JsonValue, Message, TextPart
from hearth.request import OutputFormat
from hearth.response import Response
from hearth.server import ServerSettings, create_app
from hearth.wire.anthropic import chat as anthropic
from hearth.wire.anthropic.stream import StreamEncoder

SCHEMA: JsonObject = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "rank": {"type": "integer"}},
    "required": ["city", "rank"],
    "additionalProperties": False,
}
FORMAT: JsonObject = {"type": "json_schema", "schema": SCHEMA}


def _body(**extra: JsonValue) -> JsonObject:
    return {
        "model": "m",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Largest city?"}],
        **extra,
    }


def _format(body: JsonObject) -> OutputFormat | None:
    return anthropic.request_from_wire(body).request.response_format


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"output_config": {"format": FORMAT}}, id="output_config.format"),
        pytest.param({"output_format": FORMAT}, id="beta-output_format"),
        pytest.param(
            {"output_config": {"format": FORMAT, "effort": "high"}}, id="with-default-effort"
        ),
        pytest.param(
            {"output_config": {"format": FORMAT}, "output_format": FORMAT}, id="both-the-same"
        ),
        pytest.param(
            {"output_config": {"format": FORMAT, "effort": None, "task_budget": None}},
            id="null-keys",
        ),
    ],
)
def test_each_anthropic_shape_becomes_a_json_schema_response_format(extra: JsonObject) -> None:
    assert _format(_body(**extra)) == OutputFormat("json_schema", schema=SCHEMA)


def test_a_schema_need_not_be_an_object() -> None:
    schema: JsonObject = {"type": "array", "items": {"type": "integer"}, "maxItems": 3}
    fmt = {"type": "json_schema", "schema": schema}
    assert _format(_body(output_config={"format": fmt})) == OutputFormat("json_schema", schema)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"output_config": None},
        {"output_config": {}},
        {"output_config": {"effort": "high"}},
        {"output_config": {"format": None, "effort": None}},
        {"output_format": None},
    ],
)
def test_no_format_means_free_text(extra: JsonObject) -> None:
    assert _format(_body(**extra)) is None


def test_what_the_anthropic_sdk_sends_reaches_the_backend_as_a_response_format() -> None:
    """messages.create(output_config=…), messages.parse(output_format=<a pydantic model>)
    and a raw beta body (extra_body output_format), through a live server."""
    import anthropic as sdk
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    answer = '{"name": "Tokyo", "population": 37}'
    script: Script = [TextDelta(answer), Done("end_turn", Usage(5, 9))]
    fake = FakeBackend([script, script, script])
    app = create_app(
        ServerSettings(models=("fake",)),
        config=Config(path=Path("/dev/null")),
        backends={"fake": fake},
    )
    messages: list[sdk.types.MessageParam] = [{"role": "user", "content": "Largest city?"}]
    with live(app) as url:
        client = sdk.Anthropic(base_url=url, api_key="x", max_retries=0)
        made = client.messages.create(
            model="fake", max_tokens=64, messages=messages, output_config={"format": FORMAT}
        )
        parsed = client.messages.parse(
            model="fake", max_tokens=64, messages=messages, output_format=City
        )
        client.messages.create(
            model="fake", max_tokens=64, messages=messages, extra_body={"output_format": FORMAT}
        )
    assert made.content[0].type == "text" and made.content[0].text == answer
    assert made.stop_reason == "end_turn"
    assert parsed.parsed_output == City(name="Tokyo", population=37)
    first, second, third = (r.response_format for r in fake.requests)
    assert first == third == OutputFormat("json_schema", schema=SCHEMA)
    assert second is not None and second.schema is not None
    assert second.schema["properties"].keys() == {"name", "population"}  # type: ignore[union-attr]


REFUSED: list[tuple[str, JsonObject, type[Exception], str]] = [
    (
        "invalid schema",
        {"output_config": {"format": {"type": "json_schema", "schema": {"type": "objekt"}}}},
        InvalidRequestError,
        r"^output_config\.format\.schema: the JSON schema is not valid: .* \(at type\)",
    ),
    (
        "invalid beta schema",
        {"output_format": {"type": "json_schema", "schema": {"properties": []}}},
        InvalidRequestError,
        r"^output_format\.schema: the JSON schema is not valid",
    ),
    (
        "schema missing",
        {"output_config": {"format": {"type": "json_schema"}}},
        InvalidRequestError,
        r"^output_config\.format\.schema: is required",
    ),
    (
        "schema not an object",
        {"output_format": {"type": "json_schema", "schema": "{}"}},
        InvalidRequestError,
        r"^output_format\.schema: expected an object, got a string",
    ),
    (
        "unknown format type",
        {"output_config": {"format": {"type": "json_object"}}},
        InvalidRequestError,
        r"^output_config\.format\.type: unknown type 'json_object'; expected 'json_schema'",
    ),
    (
        "format type missing",
        {"output_config": {"format": {"schema": SCHEMA}}},
        InvalidRequestError,
        r"^output_config\.format\.type: expected a string, got null",
    ),
    (
        "output_config not an object",
        {"output_config": "json"},
        InvalidRequestError,
        r"^output_config: expected an object, got a string",
    ),
    (
        "two different schemas",
        {"output_config": {"format": FORMAT}, "output_format": {**FORMAT, "schema": {}}},
        InvalidRequestError,
        r"^output_format: differs from output_config\.format; send the schema once",
    ),
    (
        "an effort hearth cannot honour",
        {"output_config": {"format": FORMAT, "effort": "low"}},
        UnsupportedFeatureError,
        r"^output_config\.effort: hearth has no effort setting.*got 'low'; leave effort out",
    ),
    (
        "an unknown effort",
        {"output_config": {"effort": "extreme"}},
        InvalidRequestError,
        r"^output_config\.effort: unknown effort 'extreme'; expected one of low, medium, high",
    ),
    (
        "task_budget",
        {"output_config": {"task_budget": {"type": "tokens", "total": 400}}},
        UnsupportedFeatureError,
        r"^output_config\.task_budget: hearth honours output_config\.format .*leave task_budget",
    ),
]


@pytest.mark.parametrize(
    ("extra", "error", "message"),
    [pytest.param(extra, error, message, id=name) for name, extra, error, message in REFUSED],
)
def test_what_hearth_cannot_honour_is_refused_by_name(
    extra: JsonObject, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        anthropic.request_from_wire(_body(**extra))
    if error is InvalidRequestError:  # a mistake, not a missing feature
        assert not isinstance(caught.value, UnsupportedFeatureError)


def test_a_refusal_is_a_400_invalid_request_error_in_anthropics_format() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        anthropic.request_from_wire(_body(output_config={"effort": "max"}))
    status, body = anthropic.error_to_wire(caught.value)
    assert status == 400
    assert body["error"] == {"type": "invalid_request_error", "message": str(caught.value)}


ANSWER = '{"city": "Tokyo", "rank": 1}'


@pytest.mark.parametrize(("reason", "wire_reason"), [("end_turn", "end_turn"),
                                                     ("max_tokens", "max_tokens")])  # fmt: skip
def test_the_answer_is_one_text_block_holding_the_json(reason: str, wire_reason: str) -> None:
    answer = Response(
        message=Message("assistant", (TextPart(ANSWER),)),
        stop_reason=reason,  # type: ignore[arg-type]
        usage=Usage(input_tokens=5, output_tokens=9),
    )
    body = anthropic.response_to_wire(answer, model="m", response_id="msg_1")
    assert body["content"] == [{"type": "text", "text": ANSWER}]
    assert body["stop_reason"] == wire_reason


def test_the_streamed_answer_is_one_text_block_holding_the_json() -> None:
    encoder = StreamEncoder(model="m", response_id="msg_1")
    chunks = encoder.start()
    for piece in ('{"city": ', '"Tokyo", ', '"rank": 1}'):
        chunks += encoder.encode(TextDelta(piece))
    chunks += encoder.encode(Done(stop_reason="end_turn", usage=Usage(5, 9)))
    events = [c.data for c in chunks]
    starts = [e for e in events if e.get("type") == "content_block_start"]
    assert [e["content_block"]["type"] for e in starts] == ["text"]  # type: ignore[index]
    text = "".join(
        e["delta"]["text"]  # type: ignore[index]
        for e in events
        if e.get("type") == "content_block_delta"
    )
    assert json.loads(text) == {"city": "Tokyo", "rank": 1}
    stop = next(e for e in events if e.get("type") == "message_delta")
    assert stop["delta"]["stop_reason"] == "end_turn"  # type: ignore[index]


def test_a_streamed_request_refused_by_the_model_is_a_400_not_a_broken_stream() -> None:
    """A schema the model cannot enforce is found when generation starts: the server pulls
    that first event before sending a byte, so the client gets a plain 400 in Anthropic's
    format, not an SSE error after a 200."""
    from starlette.testclient import TestClient

    refusal = UnsupportedFeatureError("response_format: the schema keyword 'not' is not supported")
    fake = FakeBackend([[refusal]])
    app = create_app(
        ServerSettings(models=("m",)), config=Config(path=Path("/dev/null")), backends={"m": fake}
    )
    with TestClient(app) as client:
        r = client.post("/v1/messages", json=_body(stream=True, output_config={"format": FORMAT}))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "'not'" in r.json()["error"]["message"]
    assert fake.requests[0].response_format == OutputFormat("json_schema", schema=SCHEMA)
