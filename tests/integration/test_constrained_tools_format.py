"""Tools and a response_format in one request on the real SmolLM2 (as OpenAI's API takes them):
with ``auto`` every answer is tool calls with valid arguments or JSON valid against the schema,
never free text; ``required`` gives calls; after the tool result, the answer is the JSON."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import BaseModel, Field
from tests.integration.test_constrained import CALCULATOR, WEATHER

import hearth
from hearth.events import Done, TextDelta, ToolCallEvent
from hearth.messages import JsonObject, Message, ToolResultPart

pytestmark = pytest.mark.integration

TOOLS = {t.name: t for t in (CALCULATOR, WEATHER)}
SCHEMA: JsonObject = {
    "type": "object",
    "properties": {
        "result": {"type": "number"},
        "explanation": {"type": "string", "maxLength": 80},
    },
    "required": ["result", "explanation"],
    "additionalProperties": False,
}
ASK = "What is 12 times 7? Use the calculator if you need it."


def _check(response: hearth.Response) -> str:
    """Calls with valid arguments (stop tool_use) or a schema-valid answer; which it was."""
    if response.tool_calls:
        assert response.stop_reason == "tool_use", response
        assert response.text == "", response.text
        assert response.parsed is None
        for call in response.tool_calls:
            assert call.meta is None and call.name in TOOLS, call
            jsonschema.validate(json.loads(call.arguments), TOOLS[call.name].parameters)
        return "calls"
    assert response.stop_reason == "end_turn", response
    jsonschema.validate(json.loads(response.text), SCHEMA)
    assert response.parsed == json.loads(response.text)
    return "answer"


def test_auto_gives_valid_calls_or_a_schema_valid_answer(smollm2: hearth.Model) -> None:
    kinds = []
    for seed in range(6):
        response = smollm2.chat(
            ASK,
            tools=[CALCULATOR, WEATHER],
            response_format=SCHEMA,
            temperature=1.0,
            seed=seed,
            max_tokens=300,
        )
        kinds.append(_check(response))
    assert "answer" in kinds  # SmolLM2 answers in JSON for some seeds, calls for others


def test_auto_streams_calls_as_events_or_the_answer_as_text(smollm2: hearth.Model) -> None:
    for seed in range(3):
        stream = smollm2.stream(
            ASK,
            tools=[CALCULATOR, WEATHER],
            response_format=SCHEMA,
            temperature=1.0,
            seed=seed,
            max_tokens=300,
        )
        events = list(stream)
        done = events[-1]
        assert isinstance(done, Done)
        calls = [e for e in events if isinstance(e, ToolCallEvent)]
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert (done.stop_reason == "tool_use") == bool(calls), events
        _check(stream.response)
        assert not (calls and text), events


@pytest.mark.parametrize("choice", ["required", "calculator"])
def test_required_or_named_gives_calls_even_with_a_format(
    smollm2: hearth.Model, choice: str
) -> None:
    response = smollm2.chat(
        ASK,
        tools=[CALCULATOR, WEATHER],
        tool_choice=choice,
        response_format=SCHEMA,
        temperature=0,
        max_tokens=128,
    )
    assert _check(response) == "calls"
    assert response.tool_calls[0].name == "calculator"


class Product(BaseModel):
    result: float
    explanation: str = Field(max_length=80)


@pytest.mark.parametrize("follow_up", ["none", "auto"])
def test_after_the_tool_result_the_answer_matches_the_format(
    smollm2: hearth.Model, follow_up: str
) -> None:
    first = smollm2.chat(
        ASK, tools=[CALCULATOR], tool_choice="required", response_format=Product, temperature=0
    )
    call = first.tool_calls[0]
    conversation = [
        Message.user(ASK),
        first.message,
        Message.tool(ToolResultPart(call.id, "84", name=call.name)),
    ]
    answers = 0
    for seed in range(3):
        response = smollm2.chat(
            conversation,
            tools=[CALCULATOR],
            tool_choice=follow_up,
            response_format=Product,
            temperature=0.7,
            seed=seed,
            max_tokens=300,
        )
        if follow_up == "none":
            assert not response.tool_calls
        if not response.tool_calls:
            assert isinstance(response.parsed, Product), response.text
            jsonschema.validate(json.loads(response.text), Product.model_json_schema())
            answers += 1
        else:
            _check(response)
    assert answers >= 1


def test_a_call_cut_at_its_first_tokens_is_a_cut_call_not_an_invalid_answer(
    smollm2: hearth.Model,
) -> None:
    """max_tokens inside "<tool_call>" (SmolLM2 spells it in several tokens): the output was a
    call, so ``parsed`` is None and the call says it was cut off, not an OutputValidationError
    about the text "<tool"; a JSON answer cut off is the OutputValidationError."""
    kinds = set()
    for seed in range(6):
        try:
            response = smollm2.chat(
                ASK,
                tools=[CALCULATOR, WEATHER],
                response_format=SCHEMA,
                temperature=1.0,
                seed=seed,
                max_tokens=2,
            )
        except hearth.OutputValidationError as exc:
            assert exc.raw.startswith("{") and "max_tokens" in str(exc), exc.raw
            kinds.add("answer")
            continue
        assert response.stop_reason == "max_tokens", response
        (call,) = response.tool_calls
        assert call.meta is not None and "cut off" in str(call.meta["error"])
        assert response.text == "" and response.parsed is None
        kinds.add("call")
    assert "call" in kinds
