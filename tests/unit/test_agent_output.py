"""The agent's declared answer shape (output_type) over a scripted backend: validation into
``AgentResult.parsed``, retries with feedback, exhausted retries, tools, and the finish tool."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import BaseModel
from tests.support.agent import answer, call, calls, fake_model

from hearth import Done, TextDelta, Usage, history
from hearth.agent import (
    Agent,
    Hooks,
    OutputRetryStep,
    ToolResultStep,
    TurnComplete,
    TurnError,
)
from hearth.agent.compaction import latest_user_index, replace_with_summary
from hearth.agent.output import is_retry_message
from hearth.errors import InvalidRequestError, OutputValidationError
from hearth.messages import Message
from hearth.request import OutputFormat
from hearth.store import ConversationStore
from hearth.tools import tool


class City(BaseModel):
    name: str
    population: int


PARIS = '{"name": "Paris", "population": 2100000}'
BAD = '{"name": "Paris", "population": "lots"}'


@tool
def lookup(city: str) -> str:
    """Look up facts about a city."""
    return f"{city}: population 2100000"


def test_a_valid_answer_is_parsed_into_the_output_type() -> None:
    model, backend = fake_model(answer(PARIS))
    agent = Agent(model, output_type=City)
    steps = list(agent.iter("Which city?"))
    end = steps[-1]
    assert isinstance(end, TurnComplete)
    assert end.result.parsed == City(name="Paris", population=2100000)
    assert (end.result.text, end.result.stop_reason) == (PARIS, "end_turn")
    fmt = backend.requests[0].response_format
    assert fmt is not None and fmt.kind == "json_schema" and fmt.name == "City"
    assert fmt.schema is not None and set(fmt.schema["properties"]) == {"name", "population"}  # type: ignore[arg-type]


def test_without_output_type_parsed_is_none_and_no_format_is_sent() -> None:
    model, backend = fake_model(answer(PARIS))
    result = Agent(model).run("q")
    assert result.parsed is None
    assert backend.requests[0].response_format is None


def test_an_invalid_answer_is_sent_back_and_the_retry_is_parsed() -> None:
    model, backend = fake_model(answer(BAD), answer(PARIS))
    agent = Agent(model, output_type=City)
    steps = list(agent.iter("Which city?"))
    retry = next(s for s in steps if isinstance(s, OutputRetryStep))
    assert retry.error.raw == BAD and retry.round == 1
    end = steps[-1]
    assert isinstance(end, TurnComplete)
    assert end.result.parsed == City(name="Paris", population=2100000)
    assert end.result.rounds == 2 and end.result.text == PARIS
    # the second request tells the model exactly what was wrong
    told = backend.requests[1].messages[-1]
    assert told.role == "user" and told.text == retry.feedback and is_retry_message(told)
    assert told.text.startswith("Your answer did not match the required format:")
    assert "population" in told.text and "Answer again with only" in told.text
    assert [m.role for m in end.result.new_messages] == ["user", "assistant", "user", "assistant"]


def test_retries_exhausted_end_the_turn_with_the_error_and_raw_text() -> None:
    model, backend = fake_model(answer(BAD), answer("Paris, I think."))
    agent = Agent(model, output_type=City, output_retries=1)
    steps = list(agent.iter("Which city?"))
    end = steps[-1]
    assert isinstance(end, TurnError)
    assert isinstance(end.error, OutputValidationError)
    assert end.error.raw == "Paris, I think."
    assert "Invalid JSON" in end.message and "after 2 answers" in end.message
    assert "raise output_retries" in end.message
    assert end.result.stop_reason == "error" and end.result.parsed is None
    assert end.result.text == "Paris, I think."  # the answer is kept in the history
    assert len(backend.requests) == 2
    # run() raises it, as it raises a failed model call
    model2, _ = fake_model(answer(BAD))
    with pytest.raises(OutputValidationError) as info:
        Agent(model2, output_type=City, output_retries=0).run("q")
    assert info.value.raw == BAD


def test_a_retry_counts_against_max_rounds() -> None:
    model, backend = fake_model(calls(call("lookup", '{"city": "Paris"}')), answer(BAD))
    agent = Agent(model, [lookup], output_type=City, output_retries=3, max_rounds=2)
    with pytest.raises(OutputValidationError, match="max_rounds"):
        agent.run("Which city?")
    assert len(backend.requests) == 2


def test_tools_then_a_typed_answer_and_every_request_carries_the_format() -> None:
    model, backend = fake_model(
        calls(call("lookup", '{"city": "Paris"}')), answer(BAD), answer(PARIS)
    )
    agent = Agent(model, [lookup], output_type=City)
    result = agent.run("How many people live in Paris?")
    assert result.parsed == City(name="Paris", population=2100000)
    assert result.rounds == 3 and result.stop_reason == "end_turn"
    assert result.messages[2].tool_results[0].content == "Paris: population 2100000"
    formats = [r.response_format for r in backend.requests]
    assert len(formats) == 3 and formats[0] is not None and formats[0].name == "City"
    assert formats == [formats[0]] * 3
    assert all([t.name for t in r.tools] == ["lookup"] for r in backend.requests)


def test_retries_are_counted_per_turn() -> None:
    model, _ = fake_model(answer(BAD), answer(PARIS), answer(BAD), answer(PARIS))
    agent = Agent(model, output_type=City, output_retries=1)
    assert agent.run("first").parsed is not None
    assert agent.run("second").parsed == City(name="Paris", population=2100000)


def test_a_json_schema_gives_a_dict() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
    }
    model, backend = fake_model(answer('{"answer": "five"}'), answer('{"answer": 5}'))
    result = Agent(model, output_type=schema).run("2+3?")
    assert result.parsed == {"answer": 5}
    assert "'five' is not of type 'integer'" in backend.requests[1].messages[-1].text


def test_an_answer_cut_at_max_tokens_is_retried_asking_for_a_shorter_one() -> None:
    cut = [TextDelta('{"name": "Par'), Done("max_tokens", Usage(10, 5))]
    model, backend = fake_model(cut, answer(PARIS))
    result = Agent(model, output_type=City).run("q")
    assert result.parsed == City(name="Paris", population=2100000)
    told = backend.requests[1].messages[-1].text
    assert "cut off at the token limit" in told and "more briefly" in told
    assert "raise max_tokens" not in told  # the model cannot; the final error says it
    model2, _ = fake_model(cut)
    with pytest.raises(OutputValidationError, match="raise max_tokens"):
        Agent(model2, output_type=City, output_retries=0).run("q")


def test_finish_tool_takes_the_output_schema_as_its_arguments() -> None:
    model, backend = fake_model(
        calls(call("lookup", '{"city": "Paris"}')),
        calls(call("finish", '{"name": "Paris", "population": "many"}', id="f1")),
        calls(call("finish", PARIS, id="f2")),
    )
    agent = Agent(
        model, [lookup], output_type=City, finish_tool=True,
        tool_choice="required", followup_tool_choice=None,
    )  # fmt: skip
    steps = list(agent.iter("Find Paris."))
    finish = next(t for t in backend.requests[0].tools if t.name == "finish")
    fmt = backend.requests[0].response_format
    assert fmt is not None and finish.parameters == fmt.schema
    # the invalid finish call got an error result saying what was wrong, and a retry step
    bad = next(s for s in steps if isinstance(s, ToolResultStep) and s.call.id == "f1")
    assert bad.outcome == "error" and bad.result.is_error
    assert bad.result.content.startswith("Your answer did not match the required format:")
    assert "population" in bad.result.content and "Call finish again" in bad.result.content
    assert any(isinstance(s, OutputRetryStep) for s in steps)
    end = steps[-1]
    assert isinstance(end, TurnComplete)
    assert end.result.stop_reason == "finish"
    assert end.result.parsed == City(name="Paris", population=2100000)
    assert end.result.text == PARIS
    assert end.result.finish_arguments == {"name": "Paris", "population": 2100000}


def test_finish_tool_wraps_a_non_object_output_type() -> None:
    model, backend = fake_model(calls(call("finish", '{"answer": [1, 2, 3]}')))
    agent = Agent(model, output_type=list[int], finish_tool=True, tool_choice="required")
    result = agent.run("count")
    params = backend.requests[0].tools[0].parameters
    assert params["required"] == ["answer"]
    assert params["properties"]["answer"] == {"type": "array", "items": {"type": "integer"}}  # type: ignore[index]
    assert (result.stop_reason, result.parsed, result.text) == ("finish", [1, 2, 3], "[1, 2, 3]")


def test_finish_tool_invalid_arguments_exhaust_the_retries() -> None:
    model, _ = fake_model(calls(call("finish", '{"name": "Paris"}')))
    agent = Agent(model, output_type=City, finish_tool=True, output_retries=0)
    steps = list(agent.iter("q"))
    end = steps[-1]
    assert isinstance(end, TurnError) and isinstance(end.error, OutputValidationError)
    assert "population" in end.message
    # every call still has its result in the history
    assert end.result.messages[-1].tool_results[0].is_error


def test_finish_tool_with_a_text_answer_is_validated_too() -> None:
    model, _ = fake_model(answer(PARIS))
    result = Agent(model, output_type=City, finish_tool=True).run("q")
    assert (result.stop_reason, result.parsed) == (
        "end_turn",
        City(name="Paris", population=2100000),
    )


def test_bad_settings_are_refused_by_name() -> None:
    model, _ = fake_model()
    with pytest.raises(InvalidRequestError, match="output_retries"):
        Agent(model, output_type=City, output_retries=-1)
    grammar = OutputFormat("gbnf", grammar='root ::= "yes" | "no"')
    with pytest.raises(InvalidRequestError, match="finish tool"):
        Agent(model, output_type=grammar, finish_tool=True)
    with pytest.raises(InvalidRequestError, match="response_format"):
        Agent(model, output_type=42)  # type: ignore[arg-type]


def test_stream_and_arun_give_the_parsed_value() -> None:
    model, _ = fake_model(answer(PARIS), answer(PARIS))
    agent = Agent(model, output_type=City)
    with agent.stream("q") as s:
        assert "".join(s.text_stream) == PARIS
    assert s.result is not None and s.result.parsed == City(name="Paris", population=2100000)
    result = asyncio.run(agent.arun("again"))
    assert result.parsed == City(name="Paris", population=2100000)


def test_the_store_and_json_history_keep_the_answers_text(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.db")
    model, _ = fake_model(answer(BAD), answer(PARIS))
    agent = Agent(model, output_type=City, store=store)
    agent.run("Which city?")
    assert agent.conversation_id is not None
    stored = store.load(agent.conversation_id).messages
    assert [m.text for m in stored][-1] == PARIS
    assert history.loads(agent.to_json()) == agent.messages
    assert json.loads(stored[-1].text)["name"] == "Paris"


def test_a_stored_conversation_with_a_retry_reloads_and_continues(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.db")
    model, _ = fake_model(answer(BAD), answer(PARIS))
    first = Agent(model, output_type=City, store=store)
    first.run("Which city?")
    cid = first.conversation_id
    assert cid is not None
    model2, backend2 = fake_model(answer('{"name": "Lyon", "population": 520000}'))
    again = Agent(model2, output_type=City, store=store, conversation_id=cid)
    result = again.run("And the second city?")
    assert result.parsed == City(name="Lyon", population=520000)
    sent = backend2.requests[0].messages
    assert [m.role for m in sent] == ["user", "assistant", "user", "assistant", "user"]
    # the agent's note is still its own after the store; the user's messages are theirs
    assert [is_retry_message(m) for m in sent] == [False, False, True, False, False]
    assert latest_user_index(sent) == 4
    reloaded = store.load(cid).messages
    assert [is_retry_message(m) for m in reloaded] == [False, False, True, False, False, False]


def test_a_user_message_that_starts_like_the_retry_note_is_the_users() -> None:
    """Only the agent's own note (marked in its meta) is skipped as "not the user's input":
    compaction keeps the user's latest message, whatever words it starts with."""
    model, backend = fake_model(answer(BAD), answer(PARIS))
    agent = Agent(model, output_type=City)
    agent.run("Which city?")
    retry = backend.requests[1].messages[-1]
    own = Message.user("Your answer did not match the required format: fix the population.")
    messages = [*agent.messages, own]
    assert latest_user_index([*agent.messages]) == 0  # the note is not the latest input
    assert latest_user_index(messages) == len(messages) - 1
    assert is_retry_message(retry) and not is_retry_message(own)
    assert is_retry_message(history.loads(history.dumps([retry]))[0])
    kept, replaced = replace_with_summary(messages, "The user asked for a city.")
    assert kept[-1] == own and replaced == 4


def test_cancel_during_a_retry_ends_the_turn_cancelled_and_the_next_turn_runs() -> None:
    model, backend = fake_model(answer(BAD), answer(PARIS), answer(PARIS))
    agent = Agent(model, output_type=City, output_retries=2)
    steps = []
    for step in agent.iter("Which city?"):
        steps.append(step)
        if isinstance(step, OutputRetryStep):
            agent.cancel()  # before the retry's model call
    end = steps[-1]
    assert isinstance(end, TurnComplete)
    assert (end.result.stop_reason, end.result.parsed, end.result.text) == ("cancelled", None, "")
    assert len(backend.requests) == 1 and is_retry_message(agent.messages[-1])
    assert agent.run("Try again?").parsed == City(name="Paris", population=2100000)


def test_hooks_see_the_users_input_once_and_the_parsed_result() -> None:
    seen: list[str] = []
    results: list[object] = []
    hooks = Hooks(
        pre_turn=lambda m: seen.append(m.text),  # type: ignore[func-returns-value]
        post_turn=lambda r: results.append(r.parsed),  # type: ignore[func-returns-value]
    )
    model, _ = fake_model(answer(BAD), answer(PARIS), answer(BAD))
    agent = Agent(model, output_type=City, hooks=hooks)
    agent.run("Which city?")
    with pytest.raises(OutputValidationError):
        Agent(model, output_type=City, hooks=hooks, output_retries=0).run("Again?")
    assert seen == ["Which city?", "Again?"]  # never the retry note
    assert results == [City(name="Paris", population=2100000)]  # not after the failed turn
