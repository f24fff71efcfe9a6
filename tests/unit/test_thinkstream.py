"""A reasoning model's output split into thinking and answer while it streams: recorded SmolLM2
streams (tests/fixtures/reasoning, see record_smollm2.py there), any chunking, tool calls after
and inside the thinking."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth.backends.local.reasoning import HARMONY, THINK_TAGS, ThinkingSyntax
from hearth.backends.local.shaping import ToolEvents
from hearth.backends.local.thinkstream import IN_THINKING_KEY, ThinkingEvents, ThinkingSplitter
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent, Usage
from hearth.response import accumulate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reasoning"
RECORDED = json.loads((FIXTURES / "smollm2_think_streams.json").read_text())["cases"]


def _split(syntax: ThinkingSyntax, chunks: list[str]) -> tuple[str, str]:
    splitter = ThinkingSplitter(syntax)
    pieces = [p for chunk in chunks for p in splitter.feed(chunk)] + splitter.finish()
    assert all(text for _, text in pieces)  # never an empty piece
    thinking = "".join(t for kind, t in pieces if kind == "thinking")
    answer = "".join(t for kind, t in pieces if kind == "text")
    return thinking, answer


def _events(pieces: list[str], **kwargs: object) -> list[StreamEvent]:
    transform = ThinkingEvents(THINK_TAGS, **kwargs)  # type: ignore[arg-type]
    out: list[StreamEvent] = []
    for piece in pieces:
        out += transform(TextDelta(piece))
    return out + transform(Done("end_turn", Usage(10, len(pieces))))


def test_recorded_budget_stream_splits_at_the_forced_tag() -> None:
    case = RECORDED["budget16"]
    response = accumulate(_events(case["pieces"]))
    assert response.thinking == 'In this example, the "think" is a verb that means to think'
    assert response.text == "1. 12 + 30 = 45\n\nSo, you can repeat it: 12 + 30 = 45"
    assert case["usage"]["thinking_tokens"] == 16  # the engine's count: the budget held


def test_recorded_stream_that_never_closes_is_all_thinking() -> None:
    response = accumulate(_events(RECORDED["free"]["pieces"]))
    assert response.text == ""
    assert response.thinking.startswith("In this example") and response.thinking.endswith("= 40")


def test_recorded_zero_budget_answers_at_once() -> None:
    response = accumulate(_events(RECORDED["budget0"]["pieces"]))
    assert (response.thinking, response.text) == ("", "12 + 30 = 40")
    assert [type(p).__name__ for p in response.message.parts] == ["TextPart"]


@pytest.mark.parametrize("case", sorted(RECORDED))
def test_recorded_streams_lose_nothing_but_tags(case: str) -> None:
    pieces = RECORDED[case]["pieces"]
    thinking, answer = _split(THINK_TAGS, pieces)
    whole = "".join(pieces)
    assert "<think>" not in thinking + answer and "</think>" not in thinking + answer
    assert thinking in whole and answer in whole


OUTPUTS = [
    "\n<think>\nLet me add: 12 + 30 = 42.\n</think>\n\nIt is **42**.",
    "Short thought</think>Answer right after",
    "no close at all, still thinking <",
    "<thi",
    "a</think>\n\n",
    "x </ think> y </think> the answer mentions <think> and </think> as text",
]


@given(
    st.sampled_from(OUTPUTS).flatmap(
        lambda text: st.tuples(
            st.just(text), st.lists(st.integers(0, len(text)), max_size=len(text))
        )
    )
)
def test_any_chunking_gives_the_same_thinking_and_answer(case: tuple[str, list[int]]) -> None:
    text, cuts = case
    bounds = [0, *sorted(cuts), len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert _split(THINK_TAGS, chunks) == _split(THINK_TAGS, [text])


@given(st.text(alphabet="ab<>/thinkTHINK \n", max_size=40), st.data())
def test_any_chunking_of_any_text_gives_the_same_split(text: str, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=8))
    bounds = [0, *sorted(cuts), len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert _split(THINK_TAGS, chunks) == _split(THINK_TAGS, [text])


def test_the_splitter_examples() -> None:
    assert _split(THINK_TAGS, [OUTPUTS[0]]) == ("Let me add: 12 + 30 = 42.", "It is **42**.")
    assert _split(THINK_TAGS, [OUTPUTS[3]]) == ("<thi", "")  # cut off inside a tag: thinking
    assert _split(THINK_TAGS, [OUTPUTS[5]])[1].endswith("mentions <think> and </think> as text")


def test_harmony_channels() -> None:
    out = "I should greet.<|end|><|start|>assistant<|channel|>final<|message|>Hello!"
    for size in (1, 3, len(out)):
        chunks = [out[i : i + size] for i in range(0, len(out), size)]
        assert _split(HARMONY, chunks) == ("I should greet.", "Hello!")


QWEN_CALL_AFTER = [
    "<think>\nThe user wants the weather; I'll call get_weather.\n</think>\n\n",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
]
QWEN_CALL_INSIDE = [
    "<think>\nMaybe:\n<tool_call>\n",
    '{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\nNo, ask first.',
    "\n</think>\n\nWhich city do you mean?",
]


def test_a_call_after_the_thinking_is_parsed_by_the_tool_family() -> None:
    inner = ToolEvents("hermes", ["get_weather"])
    events = _events(QWEN_CALL_AFTER, inner=inner, family="hermes", tool_names=["get_weather"])
    response = accumulate(events)
    (call,) = response.message.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert response.stop_reason == "tool_use"
    assert response.thinking == "The user wants the weather; I'll call get_weather."
    assert response.message.parts[0].meta is None  # nothing was written inside


def test_a_call_inside_the_thinking_is_reported_not_run() -> None:
    inner = ToolEvents("hermes", ["get_weather"])
    events = _events(QWEN_CALL_INSIDE, inner=inner, family="hermes", tool_names=["get_weather"])
    assert not any(isinstance(e, ToolCallEvent) for e in events)
    response = accumulate(events)
    assert response.stop_reason == "end_turn" and response.text == "Which city do you mean?"
    thinking = response.message.parts[0]
    assert "<tool_call>" in thinking.text  # kept as the model wrote it
    assert thinking.meta is not None
    (reported,) = thinking.meta[IN_THINKING_KEY]  # type: ignore[misc]
    assert reported["name"] == "get_weather"  # type: ignore[index]
    assert json.loads(reported["arguments"]) == {"city": "Oslo"}  # type: ignore[index]


def test_thinking_deltas_come_first_and_are_never_empty() -> None:
    events = _events(["\n", "<think>", "\nHmm", ".\n</th", "ink>\n", "\nOK"])
    kinds = [(type(e).__name__, getattr(e, "text", None)) for e in events]
    assert kinds == [
        ("ThinkingDelta", "Hmm"),
        ("ThinkingDelta", "."),
        ("TextDelta", "OK"),
        ("Done", None),
    ]
    assert all(isinstance(e, ThinkingDelta | TextDelta | Done) for e in events)


def _summary(pieces: list[str]) -> tuple[object, ...]:
    inner = ToolEvents("hermes", ["get_weather"])
    events = _events(pieces, inner=inner, family="hermes", tool_names=["get_weather"])
    r = accumulate(events)
    meta = r.message.parts[0].meta if r.message.parts else None
    reported = [(c["name"], c["arguments"]) for c in (meta or {}).get(IN_THINKING_KEY, [])]  # type: ignore[index, union-attr, attr-defined]
    calls = [(c.name, c.arguments) for c in r.message.tool_calls]
    return r.thinking, r.text, calls, reported, r.stop_reason


@given(st.sampled_from([QWEN_CALL_AFTER, QWEN_CALL_INSIDE]), st.data())
def test_any_chunking_gives_the_same_events_with_tool_calls(
    pieces: list[str], data: st.DataObject
) -> None:
    text = "".join(pieces)
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=12))
    bounds = [0, *sorted(cuts), len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert _summary(chunks) == _summary([text])


def test_log_probabilities_pass_through_the_split_in_order() -> None:
    from hearth.logprobs import TokenLogprob

    transform = ThinkingEvents(THINK_TAGS, ToolEvents("hermes", ["add"]))
    tokens = [("<think>", -0.5), ("hm", -0.1), ("</think>", -0.2), ("Yes", -0.3)]
    events: list[StreamEvent] = []
    for text, logprob in tokens:
        events += transform(TextDelta(text, logprobs=(TokenLogprob(text, logprob, text.encode()),)))
    events += transform(Done("end_turn", Usage(3, 4)))
    response = accumulate(events)
    assert response.thinking == "hm" and response.text == "Yes"
    assert [(e.token, e.logprob) for e in response.logprobs] == tokens
