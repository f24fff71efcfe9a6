"""``parallel_tool_calls``: one setting from the Python API to every wire format that has it,
and on local models the number of calls a constrained reply may hold (one by default, as
llama-server does; several when asked)."""

from __future__ import annotations

from llguidance import LLTokenizer, TokenizerWrapper
from tests.unit.test_constraints import EOS, ByteVocab
from tests.unit.test_constraints_tools import ADD, TOOLS, WEATHER

from hearth.backends.local.constraints import compile_constraint
from hearth.backends.local.grammars import tools_grammar
from hearth.backends.local.shaping import ToolEvents, decided, plan_output
from hearth.errors import InvalidRequestError
from hearth.events import Done, TextDelta, ToolCallEvent, Usage
from hearth.messages import Message
from hearth.request import ChatRequest
from hearth.settings import GenerationSettings
from hearth.wire.anthropic.chat import request_from_wire as anthropic_in
from hearth.wire.anthropic.chat import request_to_wire as anthropic_out
from hearth.wire.openai.chat import request_to_wire as openai_out
from hearth.wire.openai.inbound import request_from_wire as openai_in
from hearth.wire.responses.request import parse as responses_in

ONE = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
TWO = f'{ONE}\n<tool_call>\n{{"name": "weather", "arguments": {{"city": "Oslo"}}}}\n</tool_call>'
QUESTION = Message.user("What is 2 + 3, and the weather in Oslo?")


def _accepts(grammar: str, text: str) -> bool:
    tokenizer = LLTokenizer(TokenizerWrapper(ByteVocab()))
    constraint = compile_constraint(tokenizer, grammar, "tools", EOS + 1)
    try:
        for byte in text.encode():
            constraint.accept(byte)
    except InvalidRequestError:
        return False
    return constraint.accepting


def _request(parallel: bool | None, choice: str = "required") -> ChatRequest:
    settings = GenerationSettings(parallel_tool_calls=parallel)
    return ChatRequest((QUESTION,), settings=settings, tools=TOOLS, tool_choice=choice)


def _plan(request: ChatRequest, template: str | None = None):  # type: ignore[no-untyped-def]
    name = "local:qwen2.5-0.5b" if template else "local:smollm2"
    return plan_output(request, template_source=template, model_name=name, template_family="hermes")


def test_the_grammar_takes_one_call_or_several() -> None:
    single = tools_grammar(TOOLS, "required", parallel=False)
    assert _accepts(single, ONE) and not _accepts(single, TWO)
    several = tools_grammar(TOOLS, "required", parallel=True)
    assert _accepts(several, ONE) and _accepts(several, TWO)


def test_a_local_model_makes_one_call_a_reply_unless_asked_for_several() -> None:
    for parallel, two_ok in ((None, False), (False, False), (True, True)):
        plan = _plan(_request(parallel))
        assert plan.grammar is not None
        assert _accepts(plan.grammar, TWO) is two_ok, parallel
        wording = "one or more of the functions" if two_ok else "call one of the functions"
        assert wording in plan.messages[0].text


def test_a_decided_call_under_auto_is_one_call_too() -> None:
    request = _request(None, "auto")
    plan = _plan(request)
    assert plan.decision is not None
    reply = decided(request, plan, call=True)
    assert reply.grammar is not None and not _accepts(reply.grammar, TWO)
    asked = _request(True, "auto")
    assert _accepts(decided(asked, _plan(asked), call=True).grammar or "", TWO)


def test_a_native_tool_syntax_keeps_only_the_first_call_when_told_to() -> None:
    template = "{% if tools %}<tool_call>{% endif %}"
    for parallel, names in ((None, ["add", "weather"]), (False, ["add"])):
        plan = _plan(_request(parallel, "auto"), template)
        assert plan.template_tools == TOOLS  # the model's own syntax, no grammar
        events = plan.events()
        assert isinstance(events, ToolEvents)
        out = events(TextDelta(TWO)) + events(Done("end_turn", Usage(5, 30)))
        assert [e.call.name for e in out if isinstance(e, ToolCallEvent)] == names
        assert isinstance(out[-1], Done) and out[-1].stop_reason == "tool_use"


def test_openai_carries_it_both_ways_and_only_with_tools() -> None:
    body = openai_out(_request(False), model="gpt-x", stream=False)
    assert body["parallel_tool_calls"] is False
    back = openai_in(body).request
    assert back.settings.parallel_tool_calls is False
    bare = ChatRequest((QUESTION,), settings=GenerationSettings(parallel_tool_calls=True))
    assert "parallel_tool_calls" not in openai_out(bare, model="gpt-x", stream=False)


def test_anthropic_carries_it_as_disable_parallel_tool_use() -> None:
    body = anthropic_out(_request(False), model="claude-x", stream=False)
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert anthropic_in(body).request.settings.parallel_tool_calls is False
    unset = anthropic_out(_request(None), model="claude-x", stream=False)
    assert unset["tool_choice"] == {"type": "any"}
    assert anthropic_in(unset).request.settings.parallel_tool_calls is None
    none = ChatRequest((QUESTION,), tools=(ADD, WEATHER), tool_choice="none",
                       settings=GenerationSettings(parallel_tool_calls=False))  # fmt: skip
    assert anthropic_out(none, model="claude-x", stream=False)["tool_choice"] == {"type": "none"}


def test_anthropic_refuses_a_disable_parallel_tool_use_that_is_not_a_boolean() -> None:
    body = anthropic_out(_request(None), model="claude-x", stream=False)
    body["tool_choice"] = {"type": "any", "disable_parallel_tool_use": "yes"}
    try:
        anthropic_in(body)
    except InvalidRequestError as error:
        assert "tool_choice.disable_parallel_tool_use" in str(error)
    else:
        raise AssertionError("accepted a string")


def test_responses_passes_only_what_the_client_sent() -> None:
    base = {"model": "m", "input": "hi"}
    assert responses_in(base).settings.parallel_tool_calls is None
    told = responses_in({**base, "parallel_tool_calls": False})
    assert told.settings.parallel_tool_calls is False and told.parallel_tool_calls is False
