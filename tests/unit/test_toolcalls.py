"""Tool calls parsed out of local models' text: recorded outputs of each family, streamed.

The fixtures in tests/fixtures/toolcalls/<family>.json hold outputs as the models write them
(Gemma 3, Qwen 2.5 / Hermes / SmolLM3, Llama 3.1-3.2, Mistral v3 and v11 tokenizers), including
broken calls, and the events each must give. Every case is checked in one chunk, token-like
chunks, one character at a time, and (hypothesis) at any chunking.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth.backends.local.toolcalls import (
    TOOL_FAMILIES,
    ToolCallParser,
    ToolCallParserClosedError,
    ToolFamily,
    detect_family,
)
from hearth.events import StreamEvent, TextDelta, ToolCallEvent
from hearth.messages import ToolCallPart

FIXTURES = Path(__file__).parents[1] / "fixtures" / "toolcalls"


def _load() -> list[tuple[ToolFamily, list[str], dict[str, Any]]]:
    out: list[tuple[ToolFamily, list[str], dict[str, Any]]] = []
    for family in TOOL_FAMILIES:
        doc = json.loads((FIXTURES / f"{family}.json").read_text(encoding="utf-8"))
        assert doc["family"] == family
        out.extend((family, doc["tools"], case) for case in doc["cases"])
    return out


CASES = _load()
IDS = [f"{family}-{case['name']}" for family, _, case in CASES]


def run(family: ToolFamily, tools: list[str], chunks: list[str]) -> list[StreamEvent]:
    parser = ToolCallParser(family, tools)
    events: list[StreamEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.finish()


def normalize(events: list[StreamEvent]) -> list[dict[str, Any]]:
    """Events as fixture entries: adjacent text joined, call ids left out."""
    out: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, TextDelta):
            assert event.text, "a text delta must never be empty"
            if out and "text" in out[-1]:
                out[-1]["text"] += event.text
            else:
                out.append({"text": event.text})
        else:
            assert isinstance(event, ToolCallEvent)
            call = event.call
            if call.meta is not None and "error" in call.meta:
                error = call.meta["error"]
                assert isinstance(error, str)
                out.append({"error": call.name, "raw": call.arguments, "problem": error})
            else:
                out.append({"call": call.name, "arguments": call.parsed_arguments()})
    return out


def matches(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    """``got`` equals ``expected``, where an expected problem need only be part of the message."""
    if len(got) != len(expected):
        return False
    for g, e in zip(got, expected, strict=True):
        if "problem" in e:
            if g.keys() != e.keys() or g["error"] != e["error"] or g["raw"] != e["raw"]:
                return False
            if e["problem"] not in g["problem"]:
                return False
        elif g != e:
            return False
    return True


def token_chunks(text: str) -> list[str]:
    """Roughly what a tokenizer yields: words with their leading space, punctuation alone."""
    chunks: list[str] = []
    current = ""
    for char in text:
        if current and (char.isspace() or not char.isalnum() or not current[-1].isalnum()):
            chunks.append(current)
            current = ""
        current += char
    return [*chunks, current] if current else chunks


@pytest.mark.parametrize(("family", "tools", "case"), CASES, ids=IDS)
def test_recorded_output_in_one_chunk(family: ToolFamily, tools: list[str], case: Any) -> None:
    got = normalize(run(family, tools, [case["output"]]))
    assert matches(got, case["events"]), got


@pytest.mark.parametrize(("family", "tools", "case"), CASES, ids=IDS)
def test_recorded_output_token_by_token(family: ToolFamily, tools: list[str], case: Any) -> None:
    chunks = case.get("chunks") or token_chunks(case["output"])  # recorded tokens, if any
    assert "".join(chunks) == case["output"]
    got = normalize(run(family, tools, chunks))
    assert matches(got, case["events"]), got


@pytest.mark.parametrize(("family", "tools", "case"), CASES, ids=IDS)
def test_recorded_output_char_by_char(family: ToolFamily, tools: list[str], case: Any) -> None:
    got = normalize(run(family, tools, list(case["output"])))
    assert matches(got, case["events"]), got


@st.composite
def chunked_case(draw: st.DrawFn) -> tuple[ToolFamily, list[str], str, list[str]]:
    family, tools, case = draw(st.sampled_from(CASES))
    text: str = case["output"]
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return family, tools, text, [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(chunked_case())
def test_any_chunking_gives_the_same_events(
    drawn: tuple[ToolFamily, list[str], str, list[str]],
) -> None:
    family, tools, text, chunks = drawn
    assert normalize(run(family, tools, chunks)) == normalize(run(family, tools, [text]))


# --- streaming behaviour --------------------------------------------------------------------------


def test_text_before_a_call_flows_out_before_the_call_is_complete() -> None:
    parser = ToolCallParser("hermes", ["search"])
    assert parser.feed("Let me search that.") == [TextDelta("Let me search that.")]
    assert parser.feed('\n<tool_call>\n{"name": "search", "argu') == []
    events = parser.feed('ments": {"query": "x"}}\n</tool_call>')
    assert [type(e) for e in events] == [ToolCallEvent]
    assert parser.finish() == []


@pytest.mark.parametrize(
    ("family", "partial"),
    [
        ("hermes", "<tool_"),
        ("gemma", "```tool_co"),
        ("mistral", "[TOOL_CA"),
        ("llama3", "<|python_"),
        ("llama3", '{ "na'),
    ],
)
def test_a_partial_marker_is_held_back_then_released_when_it_is_not_one(
    family: ToolFamily, partial: str
) -> None:
    parser = ToolCallParser(family, ["f"])
    assert parser.feed("Hello " + partial) == [TextDelta("Hello")]
    assert parser.feed("x and more") == [TextDelta(" " + partial + "x and more")]


def test_whitespace_is_held_only_until_text_follows() -> None:
    parser = ToolCallParser("hermes", ["f"])
    assert parser.feed("Hello\n\n") == [TextDelta("Hello")]
    assert parser.feed("World") == [TextDelta("\n\nWorld")]
    assert parser.feed("  ") == []
    assert parser.finish() == [TextDelta("  ")]


def test_call_ids_are_unique_and_arguments_are_json_object_text() -> None:
    text = "".join(
        f'<tool_call>{{"name": "f", "arguments": {{"i": {i}}}}}</tool_call>' for i in range(50)
    )
    calls = [e.call for e in run("hermes", ["f"], [text]) if isinstance(e, ToolCallEvent)]
    assert len({c.id for c in calls}) == 50
    assert all(c.id.startswith("call_") and len(c.id) == 29 for c in calls)
    assert [c.parsed_arguments() for c in calls] == [{"i": i} for i in range(50)]


def test_ids_can_be_supplied() -> None:
    counter = iter(range(10))
    parser = ToolCallParser("gemma", ["f"], new_id=lambda: f"id{next(counter)}")
    events = parser.feed("```tool_code\nf(a=1)\nf(a=2)\n```")
    assert [e.call.id for e in events if isinstance(e, ToolCallEvent)] == ["id0", "id1"]


def test_a_malformed_call_carries_raw_text_and_an_error_for_the_model() -> None:
    [event] = run("hermes", ["f"], ['<tool_call>{"name": "f", "arguments": {"a": 1,}}</tool_call>'])
    assert isinstance(event, ToolCallEvent)
    assert event.call == ToolCallPart(
        id=event.call.id,
        name="f",
        arguments='{"name": "f", "arguments": {"a": 1,}}',
        meta=event.call.meta,
    )
    assert event.call.meta is not None
    assert str(event.call.meta["error"]).startswith("the tool call is not valid JSON")


def test_feed_after_finish_is_refused() -> None:
    parser = ToolCallParser("hermes", ["f"])
    parser.finish()
    assert parser.finish() == []
    with pytest.raises(ToolCallParserClosedError, match="make a new one"):
        parser.feed("more")


def test_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tool family 'xml'"):
        ToolCallParser("xml", ["f"])  # type: ignore[arg-type]


def test_a_long_call_streamed_one_character_at_a_time_parses() -> None:
    big = 'x{[\\"}]' * 5_000  # brackets, quotes and backslashes inside a string
    text = '{"name": "f", "parameters": ' + json.dumps({"blob": big}) + "}"
    parser = ToolCallParser("llama3", ["f"])
    events: list[StreamEvent] = []
    for char in text:
        events += parser.feed(char)
    [event] = events + parser.finish()
    assert isinstance(event, ToolCallEvent)
    assert event.call.parsed_arguments() == {"blob": big}


# --- which family -------------------------------------------------------------------------------

QWEN25_TEMPLATE_EXCERPT = (
    "{%- if tools %}{{- '<|im_start|>system\\n' }}...For each function call, return a json object "
    "with function name and arguments within <tool_call></tool_call> XML tags"
)
LLAMA31_TEMPLATE_EXCERPT = (
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if builtin_tools is defined %}{{- '<|python_tag|>' }}"
)
MISTRAL_TEMPLATE_EXCERPT = "{{- '[TOOL_CALLS][' }}{%- for tool_call in message.tool_calls %}"
GEMMA3_TEMPLATE_EXCERPT = "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix) }}"
SMOLLM2_TEMPLATE_EXCERPT = "{{'<|im_start|>' + message['role'] + '\\n' + message['content']}}"


@pytest.mark.parametrize(
    ("template", "name", "family"),
    [
        (QWEN25_TEMPLATE_EXCERPT, "qwen2.5-0.5b", "hermes"),
        (LLAMA31_TEMPLATE_EXCERPT, "my-model", "llama3"),
        (MISTRAL_TEMPLATE_EXCERPT, "my-model", "mistral"),
        (GEMMA3_TEMPLATE_EXCERPT, "my-model", "gemma"),
        (SMOLLM2_TEMPLATE_EXCERPT, "smollm2", None),
        (None, "gemma3-270m", "gemma"),
        (None, "Qwen2.5-1.5B-Instruct", "hermes"),
        (None, "Meta-Llama-3.1-8B-Instruct", "llama3"),
        (None, "Mistral-7B-Instruct-v0.3", "mistral"),
        ("", "phi-3-mini", None),
        (SMOLLM2_TEMPLATE_EXCERPT, "Hermes-3-Llama-3.1-8B", "hermes"),
    ],
)
def test_detect_family(template: str | None, name: str, family: ToolFamily | None) -> None:
    assert detect_family(template, name) == family
