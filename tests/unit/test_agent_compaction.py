"""Context management: drop old tool outputs, then summarise, never silently, never the system
prompt or the latest user message."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.support.agent import answer, call, calls

from hearth import Model
from hearth.agent import Agent, CompactedStep, TurnComplete, TurnError
from hearth.backends.base import Capabilities
from hearth.backends.testing import FakeBackend, Script
from hearth.errors import ContextLengthExceededError
from hearth.messages import Message, ToolResultPart
from hearth.request import ChatRequest
from hearth.tools import Tool


class CountingBackend(FakeBackend):
    """A fake whose prompt costs one token per character of message content."""

    def __init__(self, scripts: Sequence[Script], window: int) -> None:
        super().__init__(scripts, capabilities=Capabilities(context_length=window))

    def prompt_tokens(self, request: ChatRequest) -> list[int]:
        return [0] * size(request.messages)


def size(messages: Sequence[Message]) -> int:
    n = 0
    for m in messages:
        for p in m.parts:
            n += len(getattr(p, "text", "") or getattr(p, "content", "") or "")
            n += len(getattr(p, "arguments", ""))
    return n


def dump(n: int) -> Tool:
    def fetch(page: int) -> str:
        """Fetch a page."""
        return f"page{page}:" + "x" * n

    return Tool.from_function(fetch)


def test_oldest_tool_outputs_are_dropped_first_and_reported() -> None:
    backend = CountingBackend(
        [
            calls(call("fetch", '{"page": 1}', id="1")),
            calls(call("fetch", '{"page": 2}', id="2")),
            calls(call("fetch", '{"page": 3}', id="3")),
            answer("done"),
        ],
        window=700,
    )
    agent = Agent(Model(backend), [dump(300)], system="SYSTEM", reserve_tokens=50)
    steps = list(agent.iter("read three pages"))
    compacted = [s for s in steps if isinstance(s, CompactedStep)]
    assert compacted, "the history had to shrink"
    assert compacted[0].strategy == "drop_tool_outputs"
    assert compacted[0].tokens_before > 650 >= compacted[0].tokens_after  # type: ignore[operator]
    assert "1 tool call" in compacted[0].detail
    for request in backend.requests:
        assert size(request.messages) <= 650
        assert request.messages[0].text == "SYSTEM"
        assert request.messages[1].text == "read three pages"
    last = backend.requests[-1].messages
    outputs = [r.content for m in last for r in m.tool_results]
    assert "removed by hearth" in outputs[0] and "removed by hearth" in outputs[1]
    assert outputs[2].startswith("page3:")  # the newest output is kept
    assert isinstance(steps[-1], TurnComplete)


def test_older_turns_are_summarised_when_dropping_is_not_enough() -> None:
    backend = CountingBackend(
        [answer("A" * 300), answer("SUMMARY: user said hello"), answer("fine")], window=500
    )
    agent = Agent(Model(backend), system="SYS", reserve_tokens=50)
    agent.run("hello " * 20)
    steps = list(agent.iter("B" * 200))
    compacted = [s for s in steps if isinstance(s, CompactedStep)]
    assert [c.strategy for c in compacted] == ["summarize"]
    assert "2 earlier message" in compacted[0].detail
    summary_request = backend.requests[1]
    assert "hello" in summary_request.messages[0].text and not summary_request.tools
    final = backend.requests[2].messages
    assert final[0].text == "SYS"
    assert "SUMMARY: user said hello" in final[1].text
    assert final[-1].text == "B" * 200
    assert agent.messages == [*final, agent.messages[-1]]
    result = steps[-1]
    assert isinstance(result, TurnComplete)
    assert result.result.usage.input_tokens == 20  # the summary call is counted


def test_provider_overflow_error_triggers_compaction_and_a_retry() -> None:
    backend = FakeBackend(
        [
            calls(call("fetch", '{"page": 1}', id="1")),
            [ContextLengthExceededError(None, None)],
            answer("after retry"),
        ]
    )
    agent = Agent(Model(backend), [dump(1000)])
    steps = list(agent.iter("go"))
    compacted = [s for s in steps if isinstance(s, CompactedStep)]
    assert [c.strategy for c in compacted] == ["drop_tool_outputs"]
    assert compacted[0].tokens_before is None
    retried = backend.requests[2].messages
    assert "removed by hearth" in retried[-1].tool_results[0].content
    assert agent.messages[-1].text == "after retry"


def test_when_nothing_can_go_the_error_says_so() -> None:
    backend = CountingBackend([answer("never")], window=100)
    agent = Agent(Model(backend), system="S", reserve_tokens=10)
    steps = list(agent.iter("x" * 500))
    end = steps[-1]
    assert isinstance(end, TurnError)
    assert isinstance(end.error, ContextLengthExceededError)
    assert "summarised" in str(end.error)
    assert backend.requests == []
    with pytest.raises(ContextLengthExceededError):
        Agent(Model(CountingBackend([], window=100)), reserve_tokens=10).run("y" * 500)


def test_compaction_keeps_every_call_answered() -> None:
    backend = CountingBackend(
        [
            calls(call("fetch", '{"page": 1}', id="1")),
            calls(call("fetch", '{"page": 2}', id="2")),
            answer("ok"),
        ],
        window=500,
    )
    agent = Agent(Model(backend), [dump(300)], reserve_tokens=10)
    agent.run("go")
    for request in backend.requests:
        called = [c.id for m in request.messages for c in m.tool_calls]
        answered = [r.call_id for m in request.messages for r in m.tool_results]
        assert called == answered
        assert all(isinstance(p, ToolResultPart) for m in request.messages if m.role == "tool"
                   for p in m.parts)  # fmt: skip


def test_a_compacted_history_is_stored_beside_the_full_log(tmp_path: Path) -> None:
    from hearth.store import ConversationStore

    backend = CountingBackend(
        [
            calls(call("fetch", '{"page": 1}', id="1")),
            calls(call("fetch", '{"page": 2}', id="2")),
            answer("ok"),
        ],
        window=500,
    )
    with ConversationStore(tmp_path / "c.db") as store:
        agent = Agent(Model(backend), [dump(300)], reserve_tokens=10, store=store)
        agent.run("go")
        assert agent.conversation_id is not None
        stored = store.load(agent.conversation_id)
        assert stored.context is not None
        assert list(stored.context) == agent.messages  # what a continuation starts from
        log_outputs = [r.content for m in stored.log for r in m.tool_results]
        assert all(o.startswith("page") for o in log_outputs)  # the log keeps everything


def test_a_continued_compacted_conversation_keeps_its_new_turns(tmp_path: Path) -> None:
    from hearth.store import ConversationStore

    backend = CountingBackend(
        [
            calls(call("fetch", '{"page": 1}', id="1")),
            calls(call("fetch", '{"page": 2}', id="2")),
            answer("ok"),
            answer("second answer"),
        ],
        window=500,
    )
    with ConversationStore(tmp_path / "c.db") as store:
        first = Agent(Model(backend), [dump(300)], reserve_tokens=10, store=store)
        first.run("go")
        cid = first.conversation_id
        assert cid is not None and store.load(cid).context is not None
        again = Agent(Model(backend), [dump(300)], reserve_tokens=10, store=store,
                      conversation_id=cid)  # fmt: skip
        again.run("turn two")
        later = Agent(Model(backend), [dump(300)], store=store, conversation_id=cid)
        assert [m.text for m in later.messages[-2:]] == ["turn two", "second answer"]
