"""cancel(): stops generation within one token or the running tools, history stays consistent."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from tests.support.agent import SlowBackend, answer, call, calls, fake_model

from hearth import Done, Model, TextDelta, ToolCallEvent
from hearth.agent import Agent, TextStep, ToolCallStep, TurnComplete
from hearth.errors import InvalidRequestError
from hearth.messages import Message, ToolCallPart
from hearth.tools import Tool


def every_call_has_a_result(messages: tuple[Message, ...] | list[Message]) -> bool:
    called = [c.id for m in messages for c in m.tool_calls]
    answered = [r.call_id for m in messages for r in m.tool_results]
    return called == answered


def test_cancel_mid_generation_stops_the_stream() -> None:
    model, backend = fake_model([TextDelta(f"t{i} ") for i in range(50)] + [Done("end_turn")])
    agent = Agent(model)
    steps = []
    for step in agent.iter("q"):
        steps.append(step)
        if isinstance(step, TextStep) and len(steps) == 3:
            agent.cancel()
    texts = [s for s in steps if isinstance(s, TextStep)]
    assert len(texts) == 3
    end = steps[-1]
    assert isinstance(end, TurnComplete) and end.result.stop_reason == "cancelled"
    assert backend.closed_early == 1
    assert agent.messages[-1].text == "t0 t1 t2 "  # the partial answer is kept


def test_cancel_from_another_thread_within_one_token() -> None:
    script = [TextDelta(f"t{i} ") for i in range(200)] + [Done("end_turn")]
    backend = SlowBackend([script], delay=0.01)
    agent = Agent(Model(backend))
    at_cancel: list[int] = []

    def canceller() -> None:
        backend.started.wait(5)
        time.sleep(0.1)
        at_cancel.append(backend.produced)
        agent.cancel()

    thread = threading.Thread(target=canceller)
    thread.start()
    began = time.monotonic()
    result = agent.run("q")
    thread.join()
    assert result.stop_reason == "cancelled"
    assert time.monotonic() - began < 1.5
    assert backend.produced - at_cancel[0] <= 1


def test_cancel_after_a_tool_call_was_generated_synthesises_its_result() -> None:
    script = [ToolCallEvent(ToolCallPart("c1", "noop")), TextDelta("more"), Done("tool_use")]
    model, _ = fake_model(script)
    agent = Agent(model, [Tool.from_schema("noop", {"type": "object"})])
    for step in agent.iter("q"):
        if isinstance(step, ToolCallStep):
            agent.cancel()
    assert every_call_has_a_result(agent.messages)
    result = agent.messages[-1].tool_results[0]
    assert result.is_error and "cancelled" in result.content


@pytest.mark.parametrize("during", ["generation", "tool"])
def test_the_steps_also_show_a_cancelled_result_for_every_call(during: str) -> None:
    release = threading.Event()

    def hang() -> str:
        """Wait."""
        release.wait(5)
        return "late"

    script = [ToolCallEvent(ToolCallPart("c1", "hang")), TextDelta("more"), Done("tool_use")]
    model, _ = fake_model(script)
    agent = Agent(model, [Tool.from_function(hang)])
    steps = []
    for step in agent.iter("q"):
        steps.append(step)
        if during == "generation" and isinstance(step, ToolCallStep):
            agent.cancel()
        if during == "tool" and isinstance(step, ToolCallStep):
            threading.Timer(0.1, agent.cancel).start()
    release.set()
    kinds = [s.kind for s in steps if s.kind != "text"]
    assert kinds == ["tool_call", "tool_result", "turn_complete"]
    result = next(s for s in steps if s.kind == "tool_result")
    assert result.outcome == "cancelled"  # type: ignore[attr-defined]
    assert [s.index for s in steps] == list(range(len(steps)))


def test_cancel_mid_tool_stops_waiting_and_answers_every_call() -> None:
    release = threading.Event()

    def stuck(n: int) -> str:
        """Blocks."""
        release.wait(10)
        return "late"

    model, backend = fake_model(
        calls(call("stuck", '{"n": 1}', id="1"), call("stuck", '{"n": 2}', id="2")), answer("x")
    )
    agent = Agent(model, [Tool.from_function(stuck, concurrent=False)])
    threading.Timer(0.2, agent.cancel).start()
    began = time.monotonic()
    result = agent.run("q")
    release.set()
    assert time.monotonic() - began < 2
    assert result.stop_reason == "cancelled"
    assert every_call_has_a_result(result.messages)
    assert all("cancelled" in r.content for r in result.messages[-1].tool_results)
    assert len(backend.requests) == 1  # the model was not called again


def test_cancel_from_another_task() -> None:
    async def main() -> str:
        script = [TextDelta("x")] * 200 + [Done("end_turn")]
        backend = SlowBackend([script], delay=0.01)
        agent = Agent(Model(backend))
        task = asyncio.create_task(agent.arun("q"))
        await asyncio.sleep(0.1)
        agent.cancel()
        result = await asyncio.wait_for(task, 2)
        assert backend.produced < 50
        return result.stop_reason

    assert asyncio.run(main()) == "cancelled"


def test_breaking_out_of_iter_leaves_a_consistent_history() -> None:
    model, _ = fake_model(calls(call("noop", id="1"), call("noop", id="2")), answer("x"))
    agent = Agent(model, [Tool.from_schema("noop", {"type": "object"})])
    for step in agent.iter("q"):
        if isinstance(step, ToolCallStep):
            break
    assert every_call_has_a_result(agent.messages)
    assert not agent.busy


def test_cancel_while_idle_does_nothing() -> None:
    model, _ = fake_model(answer("fine"))
    agent = Agent(model)
    agent.cancel()
    assert agent.run("q").stop_reason == "end_turn"


def test_ctrl_c_mid_tool_leaves_a_saved_consistent_turn(tmp_path: Path) -> None:
    from hearth.store import ConversationStore

    release = threading.Event()

    def stuck() -> str:
        """Blocks."""
        release.wait(10)
        return "late"

    model, _ = fake_model(calls(call("stuck")), answer("x"))
    with ConversationStore(tmp_path / "c.db") as store:
        agent = Agent(model, [Tool.from_function(stuck)], store=store)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            agent.run("q")
        release.set()
        assert not agent.busy
        assert every_call_has_a_result(agent.messages)
        assert agent.conversation_id is not None
        (turn,) = store.load(agent.conversation_id).turns
        assert turn.stop_reason == "cancelled"
        assert every_call_has_a_result(list(turn.messages))


def test_sync_run_inside_an_event_loop_says_what_to_use() -> None:
    async def main() -> None:
        model, _ = fake_model(answer("x"))
        with pytest.raises(InvalidRequestError, match="arun"):
            Agent(model).run("q")

    asyncio.run(main())
