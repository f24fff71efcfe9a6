"""Tools on local models without a model: the tool grammar, the request plan and the events."""

from __future__ import annotations

import json

import jsonschema
import pytest
from llguidance import LLTokenizer, TokenizerWrapper
from tests.unit.test_constraints import EOS, ByteVocab, random_walk

from hearth.backends.local.constraints import check_grammar, compile_constraint
from hearth.backends.local.grammars import tools_grammar
from hearth.backends.local.shaping import ToolEvents, decided, plan_output
from hearth.backends.local.toolcalls import ToolCallParser
from hearth.errors import InvalidRequestError
from hearth.events import Done, TextDelta, ToolCallEvent, Usage
from hearth.messages import Message
from hearth.request import ChatRequest, OutputFormat, ToolSpec

ADD = ToolSpec(
    "add",
    "Add two numbers.",
    {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "minimum": -100, "maximum": 100},
            "b": {"type": "integer", "minimum": -100, "maximum": 100},
        },
        "required": ["a", "b"],
        "additionalProperties": False,
    },
)
WEATHER = ToolSpec(
    "weather",
    "The weather in a city.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 20},
            "unit": {"enum": ["C", "F"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
)
TOOLS = (ADD, WEATHER)


@pytest.fixture(scope="module")
def tokenizer() -> LLTokenizer:
    return LLTokenizer(TokenizerWrapper(ByteVocab()))


def _events(text: str) -> list[object]:
    parser = ToolCallParser("hermes", [t.name for t in TOOLS])
    return [*parser.feed(text), *parser.finish()]


def _check_calls(events: list[object], allowed: set[str]) -> int:
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    specs = {t.name: t for t in TOOLS}
    for call in calls:
        assert call.meta is None, call.meta
        assert call.name in allowed
        jsonschema.validate(json.loads(call.arguments), specs[call.name].parameters)
    return len(calls)


@pytest.mark.parametrize("choice", ["required", "add", "weather"])
def test_forced_choices_always_give_valid_calls(tokenizer: LLTokenizer, choice: str) -> None:
    grammar = tools_grammar(TOOLS, choice)
    check_grammar(grammar, "tool list")
    allowed = {"add", "weather"} if choice == "required" else {choice}
    for seed in range(8):
        constraint = compile_constraint(tokenizer, grammar, "tools", EOS + 1)
        text = random_walk(constraint, seed, limit=5000)
        events = _events(text)
        assert not [e for e in events if isinstance(e, TextDelta)], text
        assert _check_calls(events, allowed) >= 1, text


def test_auto_gives_text_or_valid_calls(tokenizer: LLTokenizer) -> None:
    grammar = tools_grammar(TOOLS, "auto")
    for seed in range(12):
        constraint = compile_constraint(tokenizer, grammar, "tools", EOS + 1)
        text = random_walk(constraint, seed, limit=5000)
        events = _events(text)
        assert "<tool_call>" not in "".join(e.text for e in events if isinstance(e, TextDelta))
        _check_calls(events, {"add", "weather"})


def test_auto_allows_a_call_and_forbids_a_bad_one(tokenizer: LLTokenizer) -> None:
    grammar = tools_grammar(TOOLS, "auto")
    good = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    constraint = compile_constraint(tokenizer, grammar, "tools", EOS + 1)
    for byte in good.encode():
        constraint.accept(byte)
    assert constraint.accepting
    bad = '<tool_call>\n{"name": "sub"'
    constraint = compile_constraint(tokenizer, grammar, "tools", EOS + 1)
    with pytest.raises(InvalidRequestError):
        for byte in bad.encode():
            constraint.accept(byte)


def _request(**kwargs: object) -> ChatRequest:
    return ChatRequest((Message.user("What is 2 + 3?"),), **kwargs)  # type: ignore[arg-type]


def _plan(request: ChatRequest, *, template: str | None = None, name: str = "local:smollm2"):  # type: ignore[no-untyped-def]
    return plan_output(request, template_source=template, model_name=name, template_family="hermes")


def test_plan_without_tools_or_format_changes_nothing() -> None:
    request = _request()
    plan = _plan(request)
    assert plan.messages == request.messages
    assert plan.grammar is None and plan.parser is None


def test_plan_for_response_format_constrains_without_prompt_changes() -> None:
    request = _request(response_format=OutputFormat("json"))
    plan = _plan(request)
    assert plan.messages == request.messages
    assert plan.grammar is not None and plan.parser is None


def test_tool_choice_none_hides_the_tools() -> None:
    plan = _plan(_request(tools=TOOLS, tool_choice="none"))
    assert plan.grammar is None and plan.parser is None
    assert len(plan.messages) == 1


def test_model_without_tool_syntax_gets_a_tool_prompt_and_a_grammar() -> None:
    request = ChatRequest(
        (Message.system("Be brief."), Message.user("What is 2 + 3?")), tools=TOOLS
    )
    plan = _plan(request)  # under auto: a decision step first, then the calls' grammar
    assert plan.parser == "hermes" and plan.grammar is None and plan.decision is not None
    assert decided(request, plan, call=True).grammar is not None
    system = plan.messages[0]
    assert system.role == "system" and len(plan.messages) == 2
    assert '"name": "add"' in system.text and system.text.endswith("Be brief.")
    assert "<tool_call>" in system.text


def test_required_on_a_model_with_tool_syntax_is_still_constrained() -> None:
    plan = _plan(_request(tools=TOOLS, tool_choice="required"), name="local:qwen2.5-0.5b")
    assert plan.grammar is not None and plan.parser == "hermes"
    assert "must call" in plan.messages[0].text


def test_auto_on_a_model_with_tool_syntax_uses_its_template_and_parser() -> None:
    plan = _plan(_request(tools=TOOLS), template="{% if tools %}<tool_call>{% endif %}")
    assert plan.grammar is None and plan.parser == "hermes"
    assert plan.template_tools == TOOLS


def test_tool_events_turn_calls_into_events_and_tool_use() -> None:
    events = ToolEvents("hermes", ["add"])
    out = events(TextDelta('<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}'))
    out += events(TextDelta("\n</tool_call>"))
    out += events(Done("end_turn", Usage(5, 20)))
    calls = [e for e in out if isinstance(e, ToolCallEvent)]
    assert [c.call.name for c in calls] == ["add"]
    assert json.loads(calls[0].call.arguments) == {"a": 1, "b": 2}
    assert isinstance(out[-1], Done) and out[-1].stop_reason == "tool_use"


def test_tool_events_leave_text_answers_alone() -> None:
    events = ToolEvents("hermes", ["add"])
    out = events(TextDelta("It is 5.")) + events(Done("end_turn", Usage(5, 3)))
    assert "".join(e.text for e in out if isinstance(e, TextDelta)) == "It is 5."
    assert isinstance(out[-1], Done) and out[-1].stop_reason == "end_turn"
