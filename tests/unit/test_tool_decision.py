"""The decision step for tools under ``auto`` on a model with no tool syntax, without a model:
the question asked, how its answer is read, the plans of the reply, and the usage added."""

from __future__ import annotations

import pytest
from llguidance import LLTokenizer, TokenizerWrapper
from tests.unit.test_constraints import EOS, ByteVocab

from hearth.backends.local.constraints import compile_constraint
from hearth.backends.local.decision import (
    ANSWER_FROM_RESULTS,
    ASK_AFTER_RESULTS,
    ASK_BEFORE_RESULTS,
    answer_messages,
    decision_for,
    with_usage,
)
from hearth.backends.local.grammars import text_grammar, tools_grammar
from hearth.backends.local.shaping import decided, plan_output
from hearth.errors import InvalidRequestError
from hearth.events import Done, TextDelta, Usage
from hearth.messages import Message, TextPart, ToolCallPart, ToolResultPart
from hearth.request import ChatRequest, OutputFormat, ToolSpec

ADD = ToolSpec(
    "add",
    "Add two integers.",
    {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    },
)
QUESTION = Message.user("What is 2 + 3?")
CALLED = Message.assistant(ToolCallPart("c1", "add", '{"a": 2, "b": 3}'))
RESULT = Message.tool(ToolResultPart("c1", "5", name="add"))


def _plan(*messages: Message, **kwargs: object):  # type: ignore[no-untyped-def]
    request = ChatRequest(messages, tools=(ADD,), **kwargs)  # type: ignore[arg-type]
    plan = plan_output(
        request, template_source=None, model_name="local:smollm2", template_family="hermes"
    )
    return request, plan


def test_before_any_result_the_model_is_asked_whether_a_function_helps() -> None:
    _, plan = _plan(QUESTION)
    decision = plan.decision
    assert decision is not None and not decision.after_results
    assert decision.messages[:-1] == plan.messages  # the reply's prompt, then the question
    assert decision.messages[-1] == Message.user(ASK_BEFORE_RESULTS)
    assert "<tool_call>" in plan.messages[0].text  # the tool prompt is there to decide on
    assert decision.regex == "Yes|No"


def test_after_results_the_model_is_asked_whether_it_needs_another_call() -> None:
    _, plan = _plan(QUESTION, CALLED, RESULT)
    assert plan.decision is not None and plan.decision.after_results
    assert plan.decision.messages[-1] == Message.user(ASK_AFTER_RESULTS)


@pytest.mark.parametrize(("answer", "calls"), [("Yes", True), ("No", False), (" Yes", True)])
def test_yes_means_call(answer: str, calls: bool) -> None:
    assert decision_for((QUESTION,)).calls(answer) is calls
    assert decision_for((QUESTION, CALLED, RESULT)).calls(answer) is calls


def test_other_choices_and_formats_have_no_decision_step() -> None:
    for kwargs in ({"tool_choice": "required"}, {"tool_choice": "add"}, {"tool_choice": "none"},
                   {"response_format": OutputFormat("json")}):  # fmt: skip
        assert _plan(QUESTION, **kwargs)[1].decision is None, kwargs
    native = plan_output(
        ChatRequest((QUESTION,), tools=(ADD,)),
        template_source="{% if tools %}<tool_call>{% endif %}",
        model_name="local:qwen2.5-0.5b",
        template_family="hermes",
    )
    assert native.decision is None and native.template_tools == (ADD,)


def test_a_call_is_constrained_to_the_tools_on_the_prompt_the_decision_was_asked_on() -> None:
    request, plan = _plan(QUESTION)
    reply = decided(request, plan, call=True)
    assert reply.messages == plan.messages and reply.decision is None
    assert reply.grammar == tools_grammar((ADD,), "required", parallel=False)
    assert reply.parser == "hermes" and reply.tool_names == ("add",)


def test_an_answer_hides_the_tools_and_shows_the_exchange_as_text() -> None:
    request, plan = _plan(QUESTION, CALLED, RESULT)
    reply = decided(request, plan, call=False)
    assert reply.parser is None and reply.grammar == text_grammar()
    assert reply.messages == (
        QUESTION,
        Message.assistant("add(a=2, b=3) returned:\n5"),
        Message.user(ANSWER_FROM_RESULTS),
    )
    assert "# Tools" not in "".join(m.text for m in reply.messages)


def test_answer_messages_merge_rounds_and_say_what_failed() -> None:
    second = Message.assistant(
        (TextPart("Let me check."), ToolCallPart("c2", "add", '{"a": "x"}'))
    )
    failed = Message.tool(ToolResultPart("c2", "bad arguments", is_error=True))
    shown = answer_messages((QUESTION, CALLED, RESULT, second, failed))
    assert shown == (
        QUESTION,
        Message.assistant(
            'add(a=2, b=3) returned:\n5\n\nLet me check.\n\nadd(a="x") failed:\nbad arguments'
        ),
        Message.user(ANSWER_FROM_RESULTS),
    )
    later = answer_messages((QUESTION, CALLED, RESULT, Message.assistant("5"), QUESTION))
    assert later[-1] == QUESTION and later[1].text == "add(a=2, b=3) returned:\n5"
    assert answer_messages((QUESTION,)) == (QUESTION,)


def test_the_answer_grammar_refuses_call_markup() -> None:
    tokenizer = LLTokenizer(TokenizerWrapper(ByteVocab()))

    def accepts(text: str) -> bool:
        constraint = compile_constraint(tokenizer, text_grammar(), "answer", EOS + 1)
        try:
            for byte in text.encode():
                constraint.accept(byte)
        except InvalidRequestError:
            return False
        return constraint.accepting

    assert accepts("2 + 3 = 5")
    assert accepts("a <tool> tag in words")
    assert not accepts('<tool_call>\n{"name": "add"}')
    assert not accepts("")


def test_the_decision_step_usage_is_added_to_the_reply() -> None:
    transform = with_usage(Usage(300, 1, cached_tokens=10), None)
    assert transform(TextDelta("hi")) == [TextDelta("hi")]
    (done,) = transform(Done("end_turn", Usage(200, 5, cached_tokens=190)))
    assert isinstance(done, Done) and done.usage == Usage(500, 6, cached_tokens=200)
