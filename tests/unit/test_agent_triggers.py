"""The agent's runtime around its turns: background triggers, subscriptions, idleness,
clearing the history, post_turn's place, and whether the model is loaded."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from tests.support.agent import answer, call, calls, fake_model

from hearth import Model
from hearth.agent import (
    Agent,
    AgentResult,
    Hooks,
    Step,
    SubscriberLaggedError,
    TextStep,
    TurnComplete,
)
from hearth.backends.testing import FakeBackend
from hearth.errors import InvalidRequestError
from hearth.store import ConversationStore
from hearth.tools import Tool

# -- background triggers ---------------------------------------------------------------------


def test_a_message_sent_while_idle_starts_a_turn_at_once() -> None:
    model, backend = fake_model(answer("on it"))
    agent = Agent(model)
    with agent.subscribe() as steps:
        agent.send("the build failed")  # no run() follows
        assert agent.wait_for_idle(timeout=5)
        assert [m.text for m in agent.messages] == ["the build failed", "on it"]
        assert backend.requests[0].messages[-1].text == "the build failed"
        assert agent.pending == 0 and not agent.busy
    kinds = [s.kind for s in steps]
    assert kinds == ["text", "turn_complete"]


def test_a_message_sent_from_async_code_runs_on_the_callers_loop() -> None:
    model, _ = fake_model(answer("on it"))
    seen: list[asyncio.AbstractEventLoop] = []
    hooks = Hooks(post_turn=lambda result: seen.append(asyncio.get_running_loop()))
    agent = Agent(model, hooks=hooks)

    async def main() -> None:
        agent.send("ping")
        assert await agent.await_for_idle(timeout=5)
        assert seen == [asyncio.get_running_loop()]

    asyncio.run(main())
    assert agent.messages[-1].text == "on it"


def test_messages_sent_during_a_background_turn_are_queued_behind_it() -> None:
    started, release = threading.Event(), threading.Event()
    model, backend = fake_model(calls(call("wait")), answer("first done"), answer("second done"))

    def wait() -> str:
        """Wait."""
        started.set()
        release.wait(5)
        return "ok"

    agent = Agent(model, [Tool.from_function(wait)])
    agent.send("first")
    assert started.wait(5)
    agent.send("second")  # the first turn runs: this one waits for it
    assert agent.busy and agent.pending == 1
    release.set()
    assert agent.wait_for_idle(timeout=5)
    assert [r.messages[-1].text for r in backend.requests] == ["first", "", "second"]
    assert agent.messages[-1].text == "second done"


def test_run_during_a_background_turn_runs_after_it() -> None:
    release = threading.Event()
    model, _ = fake_model(calls(call("wait")), answer("background done"), answer("asked"))

    def wait() -> str:
        """Wait."""
        release.wait(5)
        return "ok"

    agent = Agent(model, [Tool.from_function(wait)])
    agent.send("trigger")
    threading.Timer(0.1, release.set).start()
    result = agent.run("question")
    assert result.text == "asked"
    texts = [m.text for m in agent.messages if m.role != "tool"]
    assert texts == ["trigger", "", "background done", "question", "asked"]


def test_wait_for_idle_times_out_while_a_turn_runs() -> None:
    release = threading.Event()
    model, _ = fake_model(calls(call("wait")), answer("done"))

    def wait() -> str:
        """Wait."""
        release.wait(5)
        return "ok"

    agent = Agent(model, [Tool.from_function(wait)])
    assert agent.wait_for_idle(timeout=0)  # idle from the start
    agent.send("go")
    assert not agent.wait_for_idle(timeout=0.05)
    assert not asyncio.run(agent.await_for_idle(timeout=0.05))
    release.set()
    assert asyncio.run(agent.await_for_idle(timeout=5))


def test_wait_for_idle_refuses_to_block_an_event_loop() -> None:
    agent = Agent(fake_model()[0])

    async def main() -> None:
        with pytest.raises(InvalidRequestError, match=r"await agent\.await_for_idle"):
            agent.wait_for_idle()

    asyncio.run(main())


def test_a_closed_agent_takes_no_more_messages() -> None:
    agent = Agent(fake_model()[0])
    agent.close()
    with pytest.raises(InvalidRequestError, match="closed"):
        agent.send("hello")


# -- subscriptions ---------------------------------------------------------------------------


def test_two_subscribers_each_see_every_step() -> None:
    model, _ = fake_model(answer("hello"), answer("again"))
    agent = Agent(model)
    ui, log = agent.subscribe(), agent.subscribe()
    agent.run("one")
    agent.run("two")
    agent.close()
    ui_steps, log_steps = list(ui), list(log)
    assert [s.index for s in ui_steps] == [0, 1, 2, 3]
    assert ui_steps == log_steps
    assert [s.kind for s in ui_steps] == ["text", "turn_complete"] * 2


def test_a_subscriber_reads_from_another_thread_while_the_agent_runs() -> None:
    model, _ = fake_model(answer("hello"))
    agent = Agent(model)
    subscription = agent.subscribe()
    got: list[Step] = []

    def read() -> None:
        for step in subscription:
            got.append(step)
            if isinstance(step, TurnComplete):
                return

    reader = threading.Thread(target=read)
    reader.start()
    agent.run("hi")
    reader.join(5)
    assert [s.kind for s in got] == ["text", "turn_complete"]


def test_a_slow_subscriber_ends_with_a_lagged_error_and_the_others_go_on() -> None:
    model, _ = fake_model(answer("a"), answer("b"))
    agent = Agent(model)
    slow = agent.subscribe(buffer=3)
    fast = agent.subscribe()
    agent.run("one")  # two steps: fits
    agent.run("two")  # two more: the fourth overflows the slow one
    agent.close()
    read: list[Step] = []
    with pytest.raises(SubscriberLaggedError, match="fell behind") as caught:
        for step in slow:
            read.append(step)
    assert [s.index for s in read] == [0, 1, 2]  # what was buffered is still read
    assert caught.value.buffer == 3 and slow.dropped == 1
    assert [s.index for s in fast] == [0, 1, 2, 3]


def test_drop_oldest_keeps_the_latest_steps_and_counts_the_rest() -> None:
    model, _ = fake_model(answer("a"), answer("b"), answer("c"))
    agent = Agent(model)
    latest = agent.subscribe(buffer=2, overflow="drop_oldest")
    for prompt in ("one", "two", "three"):
        agent.run(prompt)
    agent.close()
    assert [s.index for s in latest] == [4, 5]
    assert latest.dropped == 4


def test_subscriptions_are_read_async_and_end_when_closed() -> None:
    model, _ = fake_model(answer("hello"))
    agent = Agent(model)

    async def main() -> list[str]:
        subscription = agent.subscribe()
        kinds: list[str] = []

        async def read() -> None:
            async for step in subscription:
                kinds.append(step.kind)

        reader = asyncio.create_task(read())
        await agent.arun("hi")
        await asyncio.sleep(0)
        subscription.close()
        await asyncio.wait_for(reader, 5)
        return kinds

    assert asyncio.run(main()) == ["text", "turn_complete"]


def test_a_subscription_refuses_a_bad_buffer_or_policy() -> None:
    agent = Agent(fake_model()[0])
    with pytest.raises(InvalidRequestError, match="buffer must be at least 1"):
        agent.subscribe(buffer=0)
    with pytest.raises(InvalidRequestError, match="overflow must be one of end, drop_oldest"):
        agent.subscribe(overflow="block")  # type: ignore[arg-type]


# -- post_turn --------------------------------------------------------------------------------


def test_post_turn_runs_after_the_terminal_step_was_seen() -> None:
    seen: list[str] = []

    def post_turn(result: AgentResult) -> None:
        seen.append(f"post_turn saw {seen[-1]}")

    model, _ = fake_model(answer("hello"))
    agent = Agent(model, hooks=Hooks(post_turn=post_turn))
    for step in agent.iter("hi"):
        seen.append(step.kind)
    assert seen == ["text", "turn_complete", "post_turn saw turn_complete"]


def test_post_turn_still_runs_when_the_consumer_stops_at_the_terminal_step() -> None:
    ran: list[str] = []
    model, _ = fake_model(answer("hello"))
    agent = Agent(model, hooks=Hooks(post_turn=lambda result: ran.append(result.text)))
    with agent.stream("hi") as stream:
        for step in stream:
            if isinstance(step, TurnComplete):
                break
    assert ran == ["hello"]


# -- clear_history and loaded -----------------------------------------------------------------


def test_clear_history_resets_the_history_and_the_step_index(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.db")
    model, backend = fake_model(answer("one"), answer("two"))
    agent = Agent(model, system="Be brief.", store=store)
    agent.run("first")
    first_id = agent.conversation_id
    agent.clear_history()
    assert [m.role for m in agent.messages] == ["system"] and agent.system == "Be brief."
    assert agent.conversation_id is None
    steps = list(agent.iter("second"))
    assert [(s.index, s.turn) for s in steps] == [(0, 0), (1, 0)]
    assert [m.text for m in backend.requests[1].messages] == ["Be brief.", "second"]
    assert agent.conversation_id not in (None, first_id)
    assert [m.text for m in store.load(first_id or "").messages][-1] == "one"


def test_clear_history_is_refused_while_a_turn_runs() -> None:
    model, _ = fake_model(answer("hello"))
    agent = Agent(model)
    steps = agent.iter("hi")
    next(steps)
    with pytest.raises(InvalidRequestError, match="while a turn runs"):
        agent.clear_history()
    list(steps)
    agent.clear_history()
    assert agent.messages == []


class _Unloaded(FakeBackend):
    loaded = False


def test_loaded_says_whether_the_model_is_in_memory() -> None:
    assert Agent(Model(_Unloaded([]))).loaded is False
    assert Agent(fake_model()[0]).loaded is True  # a backend with nothing to load


def test_a_text_step_is_published_before_the_caller_sees_it() -> None:
    model, _ = fake_model(answer("hello"))
    agent = Agent(model)
    subscription = agent.subscribe()
    for step in agent.iter("hi"):
        if isinstance(step, TextStep):
            subscription.close()
    assert [s.kind for s in subscription] == ["text"]
