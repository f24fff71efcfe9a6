"""The inbound translators the server relies on: response_format (OpenAI), responseMimeType /
responseSchema / responseJsonSchema (Gemini), and legacy completions bodies."""

from __future__ import annotations

import pytest

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.request import OutputFormat
from hearth.wire import gemini, openai
from hearth.wire.openai_inbound import completion_request_from_wire

USER = [{"role": "user", "content": "hi"}]
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ({"type": "text"}, None),
        ({"type": "json_object"}, OutputFormat("json")),
        (
            {
                "type": "json_schema",
                "json_schema": {"name": "x", "description": "d", "schema": SCHEMA, "strict": True},
            },
            OutputFormat("json_schema", SCHEMA, name="x", description="d"),
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "x"}},
            OutputFormat("json_schema", {"type": "object"}, name="x"),
        ),
    ],
)
def test_openai_response_format(fmt: dict[str, object], expected: OutputFormat | None) -> None:
    parsed = openai.request_from_wire({"model": "m", "messages": USER, "response_format": fmt})
    assert parsed.request.response_format == expected


@pytest.mark.parametrize(
    ("fmt", "match"),
    [
        ({"type": "json_schema"}, r"response_format\.json_schema: required"),
        ({"type": "xml"}, r"response_format\.type"),
        ({"type": "json_schema", "json_schema": {"schema": "nope"}}, r"json_schema\.schema"),
        ({}, r"response_format\.type: required"),
    ],
)
def test_openai_bad_response_format_names_the_field(fmt: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        openai.request_from_wire({"model": "m", "messages": USER, "response_format": fmt})


def _gemini(config: dict[str, object]) -> OutputFormat | None:
    body = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": config}
    return gemini.request_from_wire(body, model="m").request.response_format


def test_gemini_structured_output() -> None:
    assert _gemini({}) is None
    assert _gemini({"responseMimeType": "text/plain"}) is None
    assert _gemini({"responseMimeType": "application/json"}) == OutputFormat("json")
    assert _gemini(
        {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA}
    ) == OutputFormat("json_schema", SCHEMA)
    openapi = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a"]}
    assert _gemini(
        {"responseMimeType": "application/json", "responseSchema": openapi}
    ) == OutputFormat("json_schema", SCHEMA)


def test_gemini_bad_structured_output_names_the_field() -> None:
    with pytest.raises(InvalidRequestError, match=r"responseSchema: needs responseMimeType"):
        _gemini({"responseSchema": {"type": "OBJECT"}})
    with pytest.raises(UnsupportedFeatureError, match=r"responseMimeType"):
        _gemini({"responseMimeType": "text/x.enum"})


def test_completion_request() -> None:
    parsed = completion_request_from_wire(
        {"model": "m", "prompt": ["Once upon"], "max_tokens": 5, "stream": True, "stop": "\n"}
    )
    assert parsed.stream and parsed.model == "m"
    assert parsed.request.messages[0].role == "user"
    assert parsed.request.messages[0].text == "Once upon"
    assert parsed.request.settings.max_tokens == 5 and parsed.request.settings.stop == ("\n",)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"model": "m"}, InvalidRequestError),
        ({"model": "m", "prompt": ["a", "b"]}, InvalidRequestError),
        ({"model": "m", "prompt": [1, 2, 3]}, InvalidRequestError),
        ({"model": "m", "prompt": ""}, InvalidRequestError),
        ({"prompt": "x"}, InvalidRequestError),
        ({"model": "m", "prompt": "x", "n": 3}, UnsupportedFeatureError),
        ({"model": "m", "prompt": "x", "best_of": 2}, UnsupportedFeatureError),
        ({"model": "m", "prompt": "x", "echo": True}, UnsupportedFeatureError),
        ({"model": "m", "prompt": "x", "suffix": "y"}, UnsupportedFeatureError),
    ],
)
def test_bad_completion_requests(body: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        completion_request_from_wire(body)
