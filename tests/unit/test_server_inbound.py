"""The inbound translators the server relies on: response_format (OpenAI), responseMimeType /
responseSchema / responseJsonSchema (Gemini), and legacy completions bodies."""

from __future__ import annotations

import pytest

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import JsonObject
from hearth.request import OutputFormat
from hearth.wire.gemini import chat as gemini
from hearth.wire.openai import chat as openai
from hearth.wire.openai.inbound import completion_request_from_wire

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
    assert parsed.request.prompt == "Once upon" and parsed.request.messages == ()  # raw text
    assert parsed.request.settings.max_tokens == 5 and parsed.request.settings.stop == ("\n",)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"model": "m"}, InvalidRequestError),
        ({"model": "m", "prompt": ["a", "b"]}, InvalidRequestError),
        ({"model": "m", "prompt": [1, 2, 3]}, InvalidRequestError),
        ({"model": "m", "prompt": ""}, InvalidRequestError),
        ({"prompt": "x"}, InvalidRequestError),
        ({"model": "m", "prompt": "x", "n": 0}, InvalidRequestError),
        ({"model": "m", "prompt": "x", "n": 33}, InvalidRequestError),
        ({"model": "m", "prompt": "x", "best_of": 2}, UnsupportedFeatureError),
        ({"model": "m", "prompt": "x", "suffix": "y"}, UnsupportedFeatureError),
    ],
)
def test_bad_completion_requests(body: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        completion_request_from_wire(body)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"function_call": "auto"}, "function_call"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"web_search_options": {"search_context_size": "low"}}, "web_search_options"),
    ],
)
def test_openai_fields_hearth_cannot_honour_are_refused_by_name(
    extra: dict[str, object], field: str
) -> None:
    with pytest.raises(UnsupportedFeatureError, match=rf"^{field}: "):
        openai.request_from_wire({"model": "m", "messages": USER, **extra})


def test_openai_neutral_values_of_those_fields_are_accepted() -> None:
    body = {
        "model": "m",
        "messages": USER,
        "logprobs": False,
        "top_logprobs": 0,
        "logit_bias": {},
        "modalities": ["text"],
        "user": "u1",
        "metadata": {"a": "b"},
    }
    assert openai.request_from_wire(body).request.messages


def test_completion_logit_bias_is_refused() -> None:
    with pytest.raises(UnsupportedFeatureError, match=r"^logit_bias: "):
        completion_request_from_wire({"model": "m", "prompt": "x", "logit_bias": {"7": 1}})


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"output_config": {"effort": "low"}}, "output_config.effort"),
        (
            {"output_config": {"task_budget": {"type": "tokens", "total": 9}}},
            "output_config.task_budget",
        ),
        ({"mcp_servers": [{"type": "url", "url": "https://x"}]}, "mcp_servers"),
        ({"container": "c1"}, "container"),
    ],
)
def test_anthropic_fields_hearth_cannot_honour_are_refused_by_name(
    extra: dict[str, object], field: str
) -> None:
    from hearth.wire.anthropic.inbound import parse_request

    body = {"model": "m", "max_tokens": 8, "messages": USER, "metadata": {"user_id": "u"}}
    assert parse_request(body, None).request.messages  # metadata only labels: accepted
    with pytest.raises(UnsupportedFeatureError, match=rf"^{field}: "):
        parse_request({**body, **extra}, None)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"responseModalities": ["TEXT", "IMAGE"]}, "generationConfig.responseModalities"),
        ({"speechConfig": {"voiceConfig": {}}}, "generationConfig.speechConfig"),
    ],
)
def test_gemini_settings_hearth_cannot_honour_are_refused_by_name(
    config: dict[str, object], field: str
) -> None:
    assert _gemini({"responseModalities": ["TEXT"]}) is None
    with pytest.raises(UnsupportedFeatureError, match=rf"^{field}: "):
        _gemini(config)


def test_gemini_cached_content_is_refused() -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}], "cachedContent": "cachedContents/x"}
    with pytest.raises(UnsupportedFeatureError, match=r"^cachedContent: "):
        gemini.request_from_wire(body, model="m")


@pytest.mark.parametrize("schema", [{"type": "objekt"}, {"properties": []}, {"minLength": -1}])
def test_invalid_response_schemas_are_refused_by_both_translators(schema: JsonObject) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    with pytest.raises(InvalidRequestError, match=r"^response_format\.json_schema\.schema: "
                       r"the JSON schema is not valid"):  # fmt: skip
        openai.request_from_wire({"model": "m", "messages": USER, "response_format": fmt})
    with pytest.raises(InvalidRequestError, match=r"^generationConfig\.responseJsonSchema: "):
        _gemini({"responseMimeType": "application/json", "responseJsonSchema": schema})


def test_the_python_api_refuses_the_same_schema_clearly() -> None:
    from hearth.output import structured_output

    with pytest.raises(InvalidRequestError, match=r"the JSON schema is not valid"):
        structured_output({"type": "objekt"})
