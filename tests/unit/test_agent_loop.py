"""The agent loop over a scripted backend: rounds, stop reasons, parallel calls, triggers."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from tests.support.agent import answer, call, calls, fake_model

from hearth import Done, TextDelta, ThinkingDelta, ToolCallEvent, ToolCallPart, Usage
from hearth.agent import (
    Agent,
    TextStep,
    ThinkingStep,
    ToolResultStep,
    ToolRetryStep,
    TurnComplete,
    TurnError,
)
from hearth.errors import InvalidRequestError, ServerError
from hearth.tools import Tool, tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_a_tool_call_is_run_and_its_result_sent_back() -> None:
    model, backend = fake_model(
        calls(call("add", '{"a": 2, "b": 3}'), text="Let me add."), answer("It is 5.")
    )
    agent = Agent(model, [add], system="Be terse.")
    steps = list(agent.iter("What is 2+3?"))
    kinds = [s.kind for s in steps]
    assert kinds == ["text", "tool_call", "tool_result", "text", "turn_complete"]
    assert [s.index for s in steps] == list(range(5))
    result_step = steps[2]
    assert isinstance(result_step, ToolResultStep)
    assert (result_step.result.content, result_step.outcome) == ("5", "ok")
    done = steps[-1]
    assert isinstance(done, TurnComplete)
    assert done.result.text == "It is 5."
    assert done.result.stop_reason == "end_turn"
    assert done.result.rounds == 2
    assert done.result.usage == Usage(20, 7)
    # the second request carries the call and its result, and the tool's spec
    second = backend.requests[1]
    assert [m.role for m in second.messages] == ["system", "user", "assistant", "tool"]
    assert second.messages[3].tool_results[0].content == "5"
    assert [t.name for t in second.tools] == ["add"]


def test_a_call_the_parser_could_not_read_never_runs() -> None:
    ran: list[int] = []

    @tool
    def record(a: int) -> int:
        """Record a number."""
        ran.append(a)
        return a

    # The raw text is a valid JSON object, but the local parser flagged the call as broken.
    broken = ToolCallEvent(
        ToolCallPart("call_1", "record", '{"a": 1}', meta={"error": "unterminated <tool_call>"})
    )
    model, backend = fake_model(calls(broken), answer("Sorry."))
    result = Agent(model, [record]).run("go")
    assert ran == []
    sent = backend.requests[1].messages[-1].tool_results[0]
    assert sent.is_error
    assert "unterminated <tool_call>" in sent.content
    assert result.text == "Sorry."


def test_history_is_kept_across_runs() -> None:
    model, backend = fake_model(answer("Hi."), answer("Bob."))
    agent = Agent(model)
    agent.run("I am Bob.")
    result = agent.run("Who am I?")
    assert result.text == "Bob."
    assert [m.text for m in backend.requests[1].messages] == ["I am Bob.", "Hi.", "Who am I?"]
    assert len(result.new_messages) == 2


def test_max_rounds_is_a_stop_reason_and_keeps_history() -> None:
    model, _ = fake_model(*[calls(call("add", '{"a": 1, "b": 1}', id=f"c{i}")) for i in range(3)])
    agent = Agent(model, [add], max_rounds=3)
    result = agent.run("loop forever")
    assert result.stop_reason == "max_rounds"
    assert result.rounds == 3
    roles = [m.role for m in result.messages]
    assert roles == ["user"] + ["assistant", "tool"] * 3
    assert all(m.tool_results[0].content == "2" for m in result.messages if m.role == "tool")


def test_finish_tool_ends_the_turn_with_its_answer() -> None:
    model, backend = fake_model(calls(call("add", '{"a": 1, "b": 2}')),
                                calls(call("finish", '{"answer": "three"}')))  # fmt: skip
    agent = Agent(model, [add], finish_tool=True, tool_choice="required")
    result = agent.run("add and finish")
    assert (result.stop_reason, result.text) == ("finish", "three")
    assert result.finish_arguments == {"answer": "three"}
    assert "finish" in [t.name for t in backend.requests[0].tools]
    assert backend.requests[0].tool_choice == "required"
    last = result.messages[-1]
    assert last.role == "tool" and last.tool_results[0].call_id == "call_finish"


def test_thinking_and_text_deltas_are_steps() -> None:
    model, _ = fake_model([ThinkingDelta("hmm"), ThinkingDelta("", signature="sig"),
                           TextDelta("ok"), Done("end_turn")])  # fmt: skip
    agent = Agent(model)
    steps = list(agent.iter("q"))
    assert [type(s) for s in steps] == [ThinkingStep, TextStep, TurnComplete]
    thinking = agent.messages[-1].parts[0]
    assert thinking.signature == "sig"  # type: ignore[union-attr]


def test_unknown_tool_gets_an_error_result_and_runs_nothing() -> None:
    model, backend = fake_model(calls(call("rm_rf", '{"path": "/"}')), answer("sorry"))
    agent = Agent(model, [add])
    steps = list(agent.iter("q"))
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.outcome == "unknown_tool"
    assert result.result.is_error
    assert "add" in result.result.content
    assert backend.requests[1].messages[-1].tool_results[0].is_error


def test_bad_arguments_become_an_error_result_the_model_sees() -> None:
    model, backend = fake_model(calls(call("add", '{"a": "x"}')), answer("oops"))
    Agent(model, [add]).run("q")
    sent = backend.requests[1].messages[-1].tool_results[0]
    assert sent.is_error and "add" in sent.content


def test_parallel_calls_run_concurrently_and_keep_call_order() -> None:
    started: list[str] = []
    barrier = threading.Barrier(3, timeout=5)

    def slow(name: str, wait: float) -> str:
        """Wait, then answer."""
        started.append(name)
        barrier.wait()  # all three must be running at once, or this times out
        time.sleep(wait)
        return name

    t = Tool.from_function(slow)
    model, backend = fake_model(
        calls(
            call("slow", '{"name": "a", "wait": 0.3}', id="1"),
            call("slow", '{"name": "b", "wait": 0.0}', id="2"),
            call("slow", '{"name": "c", "wait": 0.1}', id="3"),
        ),
        answer("done"),
    )
    steps = list(Agent(model, [t]).iter("q"))
    results = [s for s in steps if isinstance(s, ToolResultStep)]
    assert [r.result.content for r in results] == ["a", "b", "c"]
    assert all(r.outcome == "ok" for r in results)
    assert [r.call_id for r in backend.requests[1].messages[-1].tool_results] == ["1", "2", "3"]


def test_calls_that_repeat_an_id_each_keep_their_own_result() -> None:
    model, backend = fake_model(
        calls(call("add", '{"a": 1, "b": 2}', id="x"), call("add", '{"a": 5, "b": 5}', id="x")),
        answer("done"),
    )
    Agent(model, [add]).run("q")
    sent = backend.requests[1].messages[-1].tool_results
    assert [r.content for r in sent] == ["3", "10"]


def test_non_concurrent_tools_run_one_at_a_time() -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def exclusive(n: int) -> int:
        """One at a time."""
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return n

    t = Tool.from_function(exclusive, concurrent=False)
    model, _ = fake_model(
        calls(*(call("exclusive", json.dumps({"n": i}), id=str(i)) for i in range(3))),
        answer("ok"),
    )
    result = Agent(model, [t]).run("q")
    assert most == 1
    assert [r.content for r in result.messages[-2].tool_results] == ["0", "1", "2"]


def test_a_tool_timeout_gives_an_error_result() -> None:
    def sleepy() -> str:
        """Sleeps."""
        time.sleep(2)
        return "late"

    t = Tool.from_function(sleepy, timeout=0.1)
    model, _ = fake_model(calls(call("sleepy")), answer("gave up"))
    began = time.monotonic()
    steps = list(Agent(model, [t]).iter("q"))
    assert time.monotonic() - began < 1.5
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.outcome == "timeout"
    assert result.result.is_error and "timed out after 0.1 s" in result.result.content
    # a plain function's thread cannot be stopped: the model is not told it was
    assert "was stopped" not in result.result.content
    assert "may still finish" in result.result.content


def test_async_tool_timeout_cancels_the_coroutine() -> None:
    cancelled = threading.Event()

    async def waits() -> str:
        """Waits."""
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    t = Tool.from_function(waits, timeout=0.05)
    model, _ = fake_model(calls(call("waits")), answer("ok"))
    result = Agent(model, [t]).run("q")
    assert "timed out" in result.messages[2].tool_results[0].content
    assert "was stopped" in result.messages[2].tool_results[0].content
    assert cancelled.wait(2)


def test_oversized_output_is_truncated_with_a_visible_marker() -> None:
    def big() -> str:
        """Big."""
        return "x" * 5000

    model, backend = fake_model(calls(call("big")), answer("ok"))
    steps = list(Agent(model, [Tool.from_function(big)], max_tool_output=100).iter("q"))
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.truncated
    sent = backend.requests[1].messages[-1].tool_results[0].content
    assert sent.startswith("x" * 100)
    assert "output truncated" in sent and "4900 of 5000 characters" in sent


def test_a_failing_model_call_is_a_turn_error_and_run_raises() -> None:
    model, _ = fake_model([ServerError("boom", status_code=500)])
    agent = Agent(model)
    steps = list(agent.iter("q"))
    assert isinstance(steps[-1], TurnError)
    assert steps[-1].result.stop_reason == "error"
    model2, _ = fake_model([ServerError("boom", status_code=500)])
    with pytest.raises(ServerError):
        Agent(model2).run("q")


def test_run_raises_a_queued_turns_failure_even_when_a_later_turn_succeeds() -> None:
    model, _ = fake_model(
        calls(call("ping")),
        answer("pinged"),
        [ServerError("boom", status_code=500)],
        answer("fine"),
    )
    agent: Agent

    def ping() -> str:
        """Ping."""
        agent.send("first")  # both arrive while the turn runs: delivered by this run()
        agent.send("second")
        return "pong"

    agent = Agent(model, [Tool.from_function(ping)])
    with pytest.raises(ServerError):
        agent.run("start")
    texts = [m.text for m in agent.messages if m.role != "tool"]
    assert texts == ["start", "", "pinged", "first", "second", "fine"]  # history kept


def test_triggers_sent_during_a_turn_are_delivered_after_it() -> None:
    model, backend = fake_model(calls(call("ping")), answer("pong seen"), answer("trigger seen"))
    agent: Agent

    def ping() -> str:
        """Ping."""
        agent.send("a background event happened")  # arrives while the turn runs
        assert agent.busy
        return "pong"

    agent = Agent(model, [Tool.from_function(ping)])
    steps = list(agent.iter("start"))
    ends = [s for s in steps if isinstance(s, TurnComplete)]
    assert [e.result.text for e in ends] == ["pong seen", "trigger seen"]
    assert [e.turn for e in ends] == [0, 1]
    # the trigger reached the model only after the first turn had finished
    assert len(backend.requests[1].messages) == 3
    assert backend.requests[2].messages[-1].text == "a background event happened"
    assert agent.pending == 0 and not agent.busy


def test_a_message_left_queued_by_a_cancelled_run_waits_for_the_next_run() -> None:
    model, backend = fake_model(calls(call("ping")), answer("first"), answer("second"))
    agent: Agent

    def ping() -> str:
        """Ping."""
        agent.send("queued")
        agent.cancel()
        return "pong"

    agent = Agent(model, [Tool.from_function(ping)])
    assert agent.run("start").stop_reason == "cancelled"
    assert agent.pending == 1 and not agent.busy
    result = agent.run("asked")
    assert result.text == "second"
    assert [r.messages[-1].text for r in backend.requests[1:]] == ["queued", "asked"]


def test_running_twice_at_once_is_refused() -> None:
    model, _ = fake_model(answer("a"))
    agent = Agent(model)
    steps = agent.iter("q")
    next(steps)
    with pytest.raises(InvalidRequestError, match="already running"):
        agent.run("again")
    list(steps)


def test_async_run_matches_sync() -> None:
    model, _ = fake_model(calls(call("add", '{"a": 4, "b": 4}')), answer("8"))
    result = asyncio.run(Agent(model, [add]).arun("q"))
    assert (result.text, result.rounds) == ("8", 2)


def test_stream_exposes_text_and_result() -> None:
    model, _ = fake_model(answer("hello"))
    with Agent(model).stream("q") as s:
        assert list(s.text_stream) == ["hello"]
    assert s.result is not None and s.result.text == "hello"


def test_bad_configuration_is_refused() -> None:
    model, _ = fake_model()
    with pytest.raises(InvalidRequestError, match="max_rounds"):
        Agent(model, max_rounds=0)
    with pytest.raises(InvalidRequestError, match="unique"):
        Agent(model, [add, add])
    with pytest.raises(InvalidRequestError, match="finish"):
        Agent(model, [Tool.from_schema("finish", {"type": "object"})], finish_tool=True)


def test_tool_choice_after_a_tool_round_is_the_followup_choice() -> None:
    def choices(**kw: object) -> list[str]:
        model, backend = fake_model(calls(call("add", '{"a": 1, "b": 1}')), answer("2"))
        Agent(model, [add], **kw).run("q")  # type: ignore[arg-type]
        return [r.tool_choice for r in backend.requests]

    assert choices(tool_choice="add") == ["add", "auto"]
    assert choices(tool_choice="required", followup_tool_choice="none") == ["required", "none"]
    assert choices(tool_choice="required", followup_tool_choice=None) == ["required"] * 2


def test_async_stream_exposes_text_and_result() -> None:
    async def main() -> tuple[list[str], str | None]:
        model, _ = fake_model(answer("hello"))
        async with Agent(model).astream("q") as s:
            pieces = [p async for p in s.text_stream]
        return pieces, s.result.text if s.result else None

    assert asyncio.run(main()) == (["hello"], "hello")


def test_a_tool_call_the_provider_rejected_is_retried_not_taken_for_an_answer() -> None:
    rejected = [Done("tool_error", Usage(10, 0), stop_detail="MALFORMED_FUNCTION_CALL")]
    model, backend = fake_model(rejected, calls(call("add", '{"a": 1, "b": 2}')), answer("3"))
    agent = Agent(model, [add])
    steps = list(agent.iter("What is 1+2?"))
    retry = next(s for s in steps if isinstance(s, ToolRetryStep))
    assert retry.detail == "MALFORMED_FUNCTION_CALL"
    assert "could not be run" in retry.feedback and "MALFORMED_FUNCTION_CALL" in retry.feedback
    told = backend.requests[1].messages[-1]
    assert told.role == "user" and told.text == retry.feedback
    end = steps[-1]
    assert isinstance(end, TurnComplete)
    assert (end.result.stop_reason, end.result.text, end.result.rounds) == ("end_turn", "3", 3)


def test_a_rejected_tool_call_with_no_round_left_ends_at_max_rounds() -> None:
    rejected = [Done("tool_error", stop_detail="MALFORMED_FUNCTION_CALL")]
    model, _ = fake_model(rejected)
    result = Agent(model, [add], max_rounds=1).run("What is 1+2?")
    assert result.stop_reason == "max_rounds"
    assert [m.role for m in result.messages] == ["user"]
