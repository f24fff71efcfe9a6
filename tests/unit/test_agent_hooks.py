"""Agent hooks: pre_turn deny, pre_tool deny / rewrite / ask, post_tool, post_turn."""

from __future__ import annotations

import asyncio

import pytest
from tests.support.agent import answer, call, calls, fake_model

from hearth.agent import (
    Agent,
    AgentResult,
    Allow,
    Ask,
    Deny,
    Hooks,
    Rewrite,
    ToolResultStep,
    TurnError,
)
from hearth.messages import Message, ToolCallPart
from hearth.tools import Tool, ToolResult

RAN: list[str] = []


def delete(path: str) -> str:
    """Delete a file."""
    RAN.append(path)
    return f"deleted {path}"


DELETE = Tool.from_function(delete)


def setup_function() -> None:
    RAN.clear()


def test_pre_turn_deny_is_a_turn_error_and_nothing_reaches_the_model() -> None:
    def guard(message: Message) -> Deny | None:
        return Deny("no secrets please") if "password" in message.text else None

    model, backend = fake_model(answer("fine"))
    agent = Agent(model, hooks=Hooks(pre_turn=guard))
    steps = list(agent.iter("my password is hunter2"))
    assert len(steps) == 1 and isinstance(steps[0], TurnError)
    assert "no secrets please" in steps[0].message
    assert steps[0].result.stop_reason == "denied"
    assert backend.requests == []
    assert agent.messages == []  # the denied input is not in the history either
    assert agent.run("hello").text == "fine"


def test_pre_tool_deny_is_final_even_when_the_model_insists() -> None:
    model, backend = fake_model(
        calls(call("delete", '{"path": "a"}', id="1")),
        calls(call("delete", '{"path": "a"}', id="2"), call("delete", '{"path": "b"}', id="3")),
        answer("I could not."),
    )
    hooks = Hooks(pre_tool=lambda c: Deny("deleting is not allowed"))
    result = Agent(model, [DELETE], hooks=hooks).run("delete a")
    assert RAN == []
    denied = [r for m in result.messages for r in m.tool_results]
    assert len(denied) == 3
    assert all(r.is_error and "deleting is not allowed" in r.content for r in denied)
    assert result.text == "I could not."
    assert backend.requests[1].messages[-1].tool_results[0].is_error


def test_pre_tool_rewrites_arguments() -> None:
    model, _ = fake_model(calls(call("delete", '{"path": "/etc/passwd"}')), answer("ok"))
    hooks = Hooks(pre_tool=lambda c: Rewrite({"path": "sandbox/passwd"}))
    steps = list(Agent(model, [DELETE], hooks=hooks).iter("q"))
    assert RAN == ["sandbox/passwd"]
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.arguments == '{"path": "sandbox/passwd"}'
    assert result.call.arguments == '{"path": "/etc/passwd"}'  # what the model wrote


def test_ask_uses_the_approval_callback() -> None:
    asked: list[tuple[str, str]] = []

    def approve(call: ToolCallPart, reason: str) -> bool:
        asked.append((call.arguments, reason))
        return "keep" not in call.arguments

    model, _ = fake_model(
        calls(
            call("delete", '{"path": "tmp"}', id="1"), call("delete", '{"path": "keep"}', id="2")
        ),
        answer("done"),
    )
    hooks = Hooks(pre_tool=lambda c: Ask("deletes a file"), approve=approve)
    result = Agent(model, [DELETE], hooks=hooks).run("q")
    assert RAN == ["tmp"]
    assert [r for _, r in asked] == ["deletes a file"] * 2
    first, second = result.messages[2].tool_results
    assert not first.is_error
    assert second.is_error and "denied" in second.content


def test_ask_without_a_callback_denies() -> None:
    model, _ = fake_model(calls(call("delete", '{"path": "x"}')), answer("ok"))
    result = Agent(model, [DELETE], hooks=Hooks(pre_tool=lambda c: Ask())).run("q")
    assert RAN == []
    assert "no approval callback" in result.messages[2].tool_results[0].content


def test_post_tool_redacts_what_the_model_sees() -> None:
    def secret() -> str:
        """Returns a secret."""
        return "the key is sk-12345"

    def redact(call: ToolCallPart, result: ToolResult) -> ToolResult:
        return ToolResult(result.content.replace("sk-12345", "[REDACTED]"), result.is_error)

    model, backend = fake_model(calls(call("secret")), answer("ok"))
    Agent(model, [Tool.from_function(secret)], hooks=Hooks(post_tool=redact)).run("q")
    sent = backend.requests[1].messages[-1].tool_results[0].content
    assert sent == "the key is [REDACTED]"


def test_async_hooks_and_post_turn() -> None:
    seen: list[AgentResult] = []

    async def pre_tool(call: ToolCallPart) -> Allow:
        await asyncio.sleep(0)
        return Allow()

    async def post_turn(result: AgentResult) -> None:
        seen.append(result)

    model, _ = fake_model(calls(call("delete", '{"path": "p"}')), answer("ok"))
    hooks = Hooks(pre_tool=pre_tool, post_turn=post_turn)
    result = asyncio.run(Agent(model, [DELETE], hooks=hooks).arun("q"))
    assert RAN == ["p"]
    assert seen == [result]


def _secret() -> str:
    """Returns a secret."""
    return "the key is sk-12345"


def test_post_tool_may_return_the_new_content_as_a_str() -> None:
    def redact(call: ToolCallPart, result: ToolResult) -> str:
        return result.content.replace("sk-12345", "[REDACTED]")

    model, backend = fake_model(calls(call("_secret")), answer("ok"))
    Agent(model, [Tool.from_function(_secret)], hooks=Hooks(post_tool=redact)).run("q")
    sent = backend.requests[1].messages[-1].tool_results[0]
    assert sent.content == "the key is [REDACTED]" and not sent.is_error


def test_post_tool_returning_something_else_is_a_clear_type_error() -> None:
    model, _ = fake_model(calls(call("_secret")), answer("ok"))
    hooks = Hooks(post_tool=lambda c, r: 42)  # type: ignore[arg-type,return-value]
    agent = Agent(model, [Tool.from_function(_secret)], hooks=hooks)
    with pytest.raises(TypeError, match=r"post_tool hook returned 42; return a ToolResult"):
        agent.run("q")
