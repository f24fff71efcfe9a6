"""Folding stream events into a Response."""

from __future__ import annotations

import pytest

from hearth import Done, TextDelta, ThinkingDelta, ToolCallEvent, ToolCallPart, Usage, accumulate
from hearth.messages import TextPart, ThinkingPart
from hearth.response import ResponseAccumulator


def test_accumulates_parts_in_model_order_with_signatures() -> None:
    call_a = ToolCallPart("a", "search", '{"q": "x"}', signature="gsig")
    call_b = ToolCallPart("b", "search", '{"q": "y"}')
    r = accumulate(
        [
            ThinkingDelta("Let me "),
            ThinkingDelta("think."),
            ThinkingDelta("", signature="sig-1"),
            TextDelta("Hel"),
            TextDelta("lo"),
            ToolCallEvent(call_a),
            ToolCallEvent(call_b),
            Done("tool_use", Usage(10, 5, cached_tokens=4, thinking_tokens=2), model="m"),
        ]
    )
    assert r.message.parts == (
        ThinkingPart("Let me think.", "sig-1"),
        TextPart("Hello"),
        call_a,
        call_b,
    )
    assert r.text == "Hello"
    assert r.tool_calls == (call_a, call_b)
    assert r.stop_reason == "tool_use"
    assert r.usage.total_tokens == 15
    assert r.model == "m"


def test_redacted_thinking_survives() -> None:
    r = accumulate([ThinkingDelta("", signature="opaque", redacted=True), Done("end_turn")])
    assert r.message.parts == (ThinkingPart("", "opaque", redacted=True),)


def test_unfinished_stream_and_events_after_done_are_errors() -> None:
    acc = ResponseAccumulator()
    acc.add(TextDelta("x"))
    assert acc.text == "x"
    with pytest.raises(RuntimeError, match="no Done"):
        acc.response()
    acc.add(Done("end_turn"))
    with pytest.raises(RuntimeError, match="after Done"):
        acc.add(TextDelta("y"))


def test_usage_adds() -> None:
    assert Usage(1, 2, 3, 4) + Usage(10, 20, 30, 40) == Usage(11, 22, 33, 44)


def test_the_model_s_own_name_travels_beside_hearth_s_name() -> None:
    done = Done("end_turn", model="local:smollm2", model_name="SmolLM2 135M Instruct")
    response = accumulate([done])
    assert (response.model, response.model_name) == ("local:smollm2", "SmolLM2 135M Instruct")
