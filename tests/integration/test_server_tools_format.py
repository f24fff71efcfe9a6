"""``hearth serve`` on loopback with the real SmolLM2, driven by the ``openai`` SDK: tools and a
``json_schema`` response_format in one /v1/chat/completions request (what the OpenAI Agents SDK
sends) are answered, with tool calls whose arguments are valid or content valid against the
schema, streamed or not."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import openai
import pytest
from google import genai
from google.genai import types as gtypes
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from openai.types.shared_params import ResponseFormatJSONSchema
from tests.support.served import served

from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "result": {"type": "number"},
        "explanation": {"type": "string", "maxLength": 80},
    },
    "required": ["result", "explanation"],
    "additionalProperties": False,
}
PARAMETERS: dict[str, object] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["add", "subtract", "multiply", "divide"]},
        "a": {"type": "number"},
        "b": {"type": "number"},
    },
    "required": ["operation", "a", "b"],
    "additionalProperties": False,
}
TOOLS: list[ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic operation on two numbers.",
            "parameters": PARAMETERS,
        },
    }
]
FORMAT: ResponseFormatJSONSchema = {
    "type": "json_schema",
    "json_schema": {"name": "product", "schema": SCHEMA},
}
ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is 12 times 7? Use the calculator if you need it."}
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings = ServerSettings(
        models=("local:smollm2",), max_queue=4, timeout=120, backend_options={"n_threads": 2}
    )
    with served(settings) as url:
        yield url


@pytest.fixture(scope="module")
def oai(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


def _check(finish_reason: str, content: str | None, calls: list[tuple[str, str]]) -> str:
    """Valid calls (finish_reason tool_calls) or schema-valid content; which it was."""
    if calls:
        assert finish_reason == "tool_calls" and not content, (finish_reason, content)
        for name, arguments in calls:
            assert name == "calculator"
            jsonschema.validate(json.loads(arguments), PARAMETERS)
        return "calls"
    assert finish_reason == "stop", (finish_reason, content)
    jsonschema.validate(json.loads(content or ""), SCHEMA)
    return "answer"


def test_tools_and_a_json_schema_together_are_answered(oai: openai.OpenAI) -> None:
    kinds = set()
    for seed in range(4):
        r = oai.chat.completions.create(
            model="smollm2",
            messages=ASK,
            tools=TOOLS,
            response_format=FORMAT,
            temperature=1.0,
            seed=seed,
            max_tokens=300,
        )
        choice = r.choices[0]
        calls = [
            (c.function.name, c.function.arguments)
            for c in choice.message.tool_calls or []
            if c.type == "function"
        ]
        kinds.add(_check(choice.finish_reason, choice.message.content, calls))
    assert "answer" in kinds


def test_streamed_tools_and_a_json_schema_together(oai: openai.OpenAI) -> None:
    for seed in range(2):
        stream = oai.chat.completions.create(
            model="smollm2",
            messages=ASK,
            tools=TOOLS,
            response_format=FORMAT,
            temperature=1.0,
            seed=seed,
            max_tokens=300,
            stream=True,
        )
        content, finish = "", ""
        names: dict[int, str] = {}
        arguments: dict[int, str] = {}
        for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            content += delta.content or ""
            for call in delta.tool_calls or []:
                if call.function is not None:
                    names[call.index] = names.get(call.index, "") + (call.function.name or "")
                    arguments[call.index] = arguments.get(call.index, "") + (
                        call.function.arguments or ""
                    )
            finish = chunk.choices[0].finish_reason or finish
        _check(finish, content, [(names[i], arguments[i]) for i in sorted(names)])


def test_after_the_tool_result_the_content_matches_the_schema(oai: openai.OpenAI) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {
            "name": "calculator",
            "arguments": '{"operation": "multiply", "a": 12, "b": 7}',
        },
    }
    messages: list[ChatCompletionMessageParam] = [
        *ASK,
        {"role": "assistant", "content": None, "tool_calls": [call]},  # type: ignore[list-item]
        {"role": "tool", "tool_call_id": "call_1", "content": "84"},
    ]
    r = oai.chat.completions.create(
        model="smollm2",
        messages=messages,
        tools=TOOLS,
        tool_choice="none",
        response_format=FORMAT,
        temperature=0,
        max_tokens=300,
    )
    assert _check(r.choices[0].finish_reason, r.choices[0].message.content, []) == "answer"


def test_gemini_tools_and_a_response_json_schema_together(base_url: str) -> None:
    """google-genai's function declarations with ``responseJsonSchema`` (Gemini's API takes
    both): function calls with valid arguments, or JSON text valid against the schema."""
    client = genai.Client(
        api_key="unused", http_options=gtypes.HttpOptions(base_url=base_url, api_version="v1beta")
    )
    calculator = gtypes.FunctionDeclaration(
        name="calculator",
        description="Evaluate an arithmetic operation on two numbers.",
        parameters_json_schema=PARAMETERS,
    )
    kinds = set()
    for seed in range(4):
        r = client.models.generate_content(
            model="smollm2",
            contents="What is 12 times 7? Use the calculator if you need it.",
            config=gtypes.GenerateContentConfig(
                tools=[gtypes.Tool(function_declarations=[calculator])],
                automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
                response_mime_type="application/json",
                response_json_schema=SCHEMA,
                temperature=1.0,
                seed=seed,
                max_output_tokens=300,
            ),
        )
        calls = [(c.name or "", json.dumps(c.args)) for c in r.function_calls or []]
        finish = "tool_calls" if calls else "stop"
        assert r.candidates and r.candidates[0].finish_reason == gtypes.FinishReason.STOP
        kinds.add(_check(finish, None if calls else r.text, calls))
    assert kinds == {"calls", "answer"}, kinds
