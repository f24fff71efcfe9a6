"""Tools and a response_format in one local request, without a model: the plan for each
tool_choice, the union grammar (calls, or an answer in the format, never free text) and its
bounds."""

from __future__ import annotations

import itertools
import json

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llguidance import LLTokenizer, TokenizerWrapper
from tests.unit.test_constraints import EOS, ByteVocab, random_walk
from tests.unit.test_constraints_tools import TOOLS, _check_calls, _events
from tests.unit.test_toolcalls import normalize

from hearth.backends.local.constraints import (
    GrammarConstraint,
    check_grammar,
    compile_constraint,
)
from hearth.backends.local.grammars import (
    MAX_ALTERNATIONS,
    MAX_GRAMMAR_BYTES,
    output_grammar,
    tools_grammar,
    tools_or_answer_grammar,
)
from hearth.backends.local.shaping import OutputPlan, ToolEvents, plan_output
from hearth.client import with_parsed
from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.events import Done, StopReason, StreamEvent, TextDelta, ToolCallEvent, Usage
from hearth.messages import JsonObject, JsonValue, Message
from hearth.output import structured_output
from hearth.request import ChatRequest, OutputFormat, ToolSpec
from hearth.response import ResponseAccumulator

ANSWER: JsonObject = {
    "type": "object",
    "properties": {
        "answer": {"type": "integer", "minimum": 0, "maximum": 1000},
        "unit": {"enum": ["apples", "pears"]},
    },
    "required": ["answer", "unit"],
    "additionalProperties": False,
}
FORMAT = OutputFormat("json_schema", ANSWER)
CALL = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'


@pytest.fixture(scope="module")
def tokenizer() -> LLTokenizer:
    return LLTokenizer(TokenizerWrapper(ByteVocab()))


def _plan(
    choice: str, fmt: OutputFormat | None = FORMAT, *, name: str = "local:smollm2"
) -> OutputPlan:
    request = ChatRequest(
        (Message.system("Be brief."), Message.user("How many apples are 2 + 3 apples?")),
        tools=TOOLS,
        tool_choice=choice,
        response_format=fmt,
    )
    template = "{% if tools %}<tool_call>{% endif %}"
    return plan_output(request, template_source=template, model_name=name, template_family="hermes")


def _constraint(tokenizer: LLTokenizer, grammar: str) -> GrammarConstraint:
    check_grammar(grammar, "tools and format")
    return compile_constraint(tokenizer, grammar, "tools and format", EOS + 1)


def _accepts(tokenizer: LLTokenizer, grammar: str, text: str) -> bool:
    """True when ``text`` is a complete output the grammar allows."""
    constraint = _constraint(tokenizer, grammar)
    try:
        for byte in text.encode():
            constraint.accept(byte)
    except InvalidRequestError:
        return False
    return constraint.accepting


# --- the plan -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["local:smollm2", "local:qwen2.5-0.5b"])
def test_auto_with_a_format_constrains_to_calls_or_the_format(name: str) -> None:
    plan = _plan("auto", name=name)
    assert plan.parser == "hermes" and plan.template_tools == ()  # never the native path
    assert plan.grammar == tools_or_answer_grammar(TOOLS, FORMAT, parallel=False)
    system = plan.messages[0].text
    assert "<tool_call>" in system and system.endswith("Be brief.")
    assert "without calling a function, your answer must be only JSON" in system
    assert json.dumps(ANSWER) in system
    assert "plain text" not in system


@pytest.mark.parametrize("choice", ["required", "add"])
def test_required_or_named_with_a_format_constrains_to_calls_only(choice: str) -> None:
    plan = _plan(choice)
    assert plan.parser == "hermes"
    assert plan.grammar == tools_grammar(TOOLS, choice, parallel=False)
    system = plan.messages[0].text
    assert "You must call" in system and json.dumps(ANSWER) in system


def test_none_with_a_format_constrains_to_the_format_alone() -> None:
    plan = _plan("none")
    assert plan.grammar == output_grammar(FORMAT) and plan.parser is None
    assert [m.text for m in plan.messages] == ["Be brief.", "How many apples are 2 + 3 apples?"]


@pytest.mark.parametrize(
    ("fmt", "said"),
    [
        (OutputFormat("json"), "only a JSON object"),
        (OutputFormat("regex", grammar="(yes|no)"), "regular expression: (yes|no)"),
        (OutputFormat("gbnf", grammar='root ::= "A" [0-9]+'), 'grammar:\nroot ::= "A" [0-9]+'),
    ],
)
def test_the_tool_prompt_says_what_an_answer_must_be(fmt: OutputFormat, said: str) -> None:
    assert said in _plan("auto", fmt).messages[0].text


# --- the grammar ----------------------------------------------------------------------------------


def test_random_outputs_are_valid_calls_or_schema_valid_answers(tokenizer: LLTokenizer) -> None:
    grammar = tools_or_answer_grammar(TOOLS, FORMAT)
    kinds = set()
    for seed in range(16):
        text = random_walk(_constraint(tokenizer, grammar), seed, limit=5000)
        events = _events(text)
        answer = "".join(e.text for e in events if isinstance(e, TextDelta))
        if answer:
            assert not any(isinstance(e, ToolCallEvent) for e in events), text
            jsonschema.validate(json.loads(answer), ANSWER)
            kinds.add("answer")
        else:
            assert _check_calls(events, {"add", "weather"}) >= 1, text
            kinds.add("calls")
    assert kinds == {"answer", "calls"}


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (CALL, True),
        (f"{CALL}\n{CALL}", True),
        ('{"answer": 5, "unit": "apples"}', True),
        ("It is 5 apples.", False),
        ('{"answer": 5}', False),  # misses a required key
        ('{"answer": 5000, "unit": "apples"}', False),  # over the maximum
        (f"Sure. {CALL}", False),  # text before a call
        (f'{CALL}\n{{"answer": 5, "unit": "apples"}}', False),  # calls and an answer
        ('<tool_call>\n{"name": "sub", "arguments": {}}\n</tool_call>', False),
    ],
)
def test_the_union_takes_calls_or_the_format_and_nothing_else(
    tokenizer: LLTokenizer, text: str, ok: bool
) -> None:
    assert _accepts(tokenizer, tools_or_answer_grammar(TOOLS, FORMAT), text) is ok


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        (OutputFormat("json"), '{"x": [1, 2]}', "[1, 2]"),
        (
            OutputFormat("json_schema", {"type": "array", "items": {"type": "integer"}}),
            "[1, 2]",
            " [1]",
        ),
        (OutputFormat("json_schema", {"enum": ["yes", "no"]}), '"no"', "no"),
        (OutputFormat("json_schema", {"type": "string", "maxLength": 3}), '"<a>"', '"<abc>"'),
        (OutputFormat("regex", grammar=r"\s*<b>[a-z]+</b>"), "  <b>hi</b>", "<b>HI</b>"),
        (OutputFormat("regex", grammar="(yes|no)"), "yes", "maybe"),
        (OutputFormat("gbnf", grammar='root ::= "A" [0-9]+'), "A42", "B42"),
        (OutputFormat("gbnf", grammar='start: "A" /[0-9]+/'), "A42", "A"),  # Lark syntax
    ],
)
def test_every_format_kind_joins_the_union(
    tokenizer: LLTokenizer, fmt: OutputFormat, good: str, bad: str
) -> None:
    grammar = tools_or_answer_grammar(TOOLS, fmt)
    assert _accepts(tokenizer, grammar, good)
    assert _accepts(tokenizer, grammar, CALL)
    assert not _accepts(tokenizer, grammar, bad)


def test_a_schema_keyword_the_engine_cannot_enforce_is_still_named() -> None:
    grammar = tools_or_answer_grammar(TOOLS, OutputFormat("json_schema", {"not": {"type": "null"}}))
    with pytest.raises(UnsupportedFeatureError, match=r"cannot enforce.*\"not\""):
        check_grammar(grammar, "tool list and json_schema response_format")


def _wide(count: int, prefix: str) -> JsonObject:
    """An object schema with ``count`` long property names (about 60 bytes each)."""
    names = [f"{prefix}_{'x' * 40}_{i:05}" for i in range(count)]
    return {"type": "object", "properties": {n: {"type": "string"} for n in names}}


def test_the_bounds_apply_to_tools_and_format_together() -> None:
    parts = MAX_GRAMMAR_BYTES // 2 // 60 + 50  # each part well under 64 KiB, both over it
    tool = ToolSpec("fill", "Fill a form.", _wide(parts, "t"))
    fmt = OutputFormat("json_schema", _wide(parts, "f"))
    tools_grammar([tool], "auto")
    output_grammar(fmt)
    with pytest.raises(InvalidRequestError, match="tool list and response_format together is"):
        tools_or_answer_grammar([tool], fmt)
    half = MAX_ALTERNATIONS // 2 + 1
    values: list[JsonValue] = list(range(half))
    pick = ToolSpec("pick", "", {"type": "object", "properties": {"v": {"enum": values}}})
    enum = OutputFormat("json_schema", {"enum": values})
    with pytest.raises(InvalidRequestError, match=r"together has .* alternatives"):
        tools_or_answer_grammar([pick], enum)


# --- the events -----------------------------------------------------------------------------------


def test_a_format_answer_passes_through_as_text_and_ends_the_turn() -> None:
    events = ToolEvents("hermes", ["add", "weather"])
    out = events(TextDelta('{"answer": 5, ')) + events(TextDelta('"unit": "apples"}'))
    out += events(Done("end_turn", Usage(5, 9)))
    assert "".join(e.text for e in out if isinstance(e, TextDelta)) == (
        '{"answer": 5, "unit": "apples"}'
    )
    assert isinstance(out[-1], Done) and out[-1].stop_reason == "end_turn"


def _run(events: ToolEvents, *pieces: str) -> list[object]:
    out: list[object] = []
    for piece in pieces:
        out += events(TextDelta(piece))
    return [*out, *events(Done("end_turn", Usage(5, 9)))]


def test_an_answer_that_mentions_the_call_marker_stays_whole() -> None:
    plan = _plan("auto")
    assert plan.calls_or_answer and not _plan("required").calls_or_answer
    events = plan.events()
    assert events is not None
    answer = '{"answer": 5, "unit": "apples", "note": "no <tool_call> here </tool_call>"}'
    out = _run(events, answer[:20], answer[20:45], answer[45:])
    assert not any(isinstance(e, ToolCallEvent) for e in out)
    assert "".join(e.text for e in out if isinstance(e, TextDelta)) == answer
    assert isinstance(out[-1], Done) and out[-1].stop_reason == "end_turn"


@pytest.mark.parametrize("cut", [1, 5, 11, 12, len(CALL)])
def test_calls_are_found_however_the_marker_is_split(cut: int) -> None:
    events = _plan("auto").events()
    assert events is not None
    out = _run(events, CALL[:cut], CALL[cut:], f"\n{CALL}")
    calls = [e.call for e in out if isinstance(e, ToolCallEvent)]
    assert [c.name for c in calls] == ["add", "add"] and all(c.meta is None for c in calls)
    assert not [e for e in out if isinstance(e, TextDelta)]
    assert isinstance(out[-1], Done) and out[-1].stop_reason == "tool_use"


def test_an_answer_cut_off_inside_the_marker_is_text() -> None:
    events = _plan("auto", OutputFormat("regex", grammar="<tool(s)?")).events()
    assert events is not None
    out = _run(events, "<to", "ol")
    assert [e.text for e in out if isinstance(e, TextDelta)] == ["<tool"]
    assert isinstance(out[-1], Done) and out[-1].stop_reason == "end_turn"


def _plan_events(fmt: OutputFormat) -> ToolEvents:
    events = _plan("auto", fmt).events()
    assert events is not None
    return events


REGEX = OutputFormat("regex", grammar=r"(<tool>|<b>[a-z]+</b>|\s*[a-z]+|<tool_call>\n[a-z]+)")


@pytest.mark.parametrize(
    ("fmt", "pieces"),
    [
        (FORMAT, ["<"]),  # a JSON answer never opens with "<": this is a call, cut
        (FORMAT, ["<tool_c"]),
        (REGEX, ["<tool_call>"]),  # the whole marker (one token for Qwen), then cut
        (REGEX, ["<tool_", "call>\n"]),
    ],
)
def test_a_call_cut_off_at_max_tokens_in_its_marker_is_a_cut_call_not_an_answer(
    fmt: OutputFormat, pieces: list[str]
) -> None:
    events = _plan_events(fmt)
    out: list[StreamEvent] = []
    for piece in pieces:
        out += events(TextDelta(piece))
    out += events(Done("max_tokens", Usage(5, len(pieces))))
    assert not [e for e in out if isinstance(e, TextDelta)], out
    (call,) = [e.call for e in out if isinstance(e, ToolCallEvent)]
    assert call.meta is not None and "cut off" in str(call.meta["error"])
    assert isinstance(out[-1], Done) and out[-1].stop_reason == "max_tokens"
    # so Response.parsed is None (a call), not an OutputValidationError about "<tool_c"
    acc = ResponseAccumulator()
    for event in out:
        acc.add(event)
    assert with_parsed(acc.response(), structured_output(ANSWER)).parsed is None


def test_a_regex_answer_that_ends_inside_the_marker_is_the_answer() -> None:
    events = _plan_events(REGEX)
    out = _run(events, "<to", "ol>")
    assert [e.text for e in out if isinstance(e, TextDelta)] == ["<tool>"]
    assert isinstance(out[-1], Done) and out[-1].stop_reason == "end_turn"


# outputs the union grammar allows (or cuts of them), each with the format it was made under
OUTPUTS: list[tuple[OutputFormat, str, StopReason]] = [
    (FORMAT, CALL, "end_turn"),
    (FORMAT, f"{CALL}\n{CALL}", "end_turn"),
    (FORMAT, '{"answer": 5, "unit": "apples", "n": "<tool_call>x</tool_call>"}', "end_turn"),
    (FORMAT, f"{CALL}\n{CALL[:30]}", "max_tokens"),
    (FORMAT, '{"answer": 5, "un', "max_tokens"),
    (FORMAT, "<tool_ca", "max_tokens"),
    (REGEX, "<tool>", "end_turn"),
    (REGEX, "<b>hi</b>", "end_turn"),
    (REGEX, "  yes", "end_turn"),
    (REGEX, CALL, "end_turn"),
    (REGEX, "<tool_call>\nabc", "end_turn"),  # the regex's own "<tool_call>": read as a call
    (REGEX, "<tool_ca", "max_tokens"),
]


def _through(fmt: OutputFormat, chunks: list[str], stop: StopReason) -> list[StreamEvent]:
    events = _plan_events(fmt)
    out: list[StreamEvent] = []
    for chunk in chunks:
        out += events(TextDelta(chunk))
    return [*out, *events(Done(stop, Usage(5, 9)))]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(OUTPUTS), st.data())
def test_any_chunking_through_the_marker_gives_the_same_events(
    case: tuple[OutputFormat, str, StopReason], data: st.DataObject
) -> None:
    fmt, text, stop = case
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=12)))
    chunks = [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])]
    got, whole = _through(fmt, chunks, stop), _through(fmt, [text], stop)
    body = [e for e in got if not isinstance(e, Done)]
    assert normalize(body) == normalize([e for e in whole if not isinstance(e, Done)])
    assert got[-1] == whole[-1]
