"""The pure parts of hearth.mcp: the names models see, results as text, the approval policy
of the agent's hooks, and progress from a running tool to the agent's steps."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import mcp_types as types
from tests.support.agent import answer, call, calls, fake_model

from hearth.agent import Agent, Allow, Ask, Deny, Hooks, Rewrite, ToolProgressStep, report_progress
from hearth.agent.hooks import call_hook
from hearth.agent.mcp_tools import with_approval
from hearth.mcp.naming import exposed_names, tool_name
from hearth.mcp.requests import defaults
from hearth.mcp.results import tool_result
from hearth.messages import ToolCallPart
from hearth.tools import tool


def test_unique_names_stay_and_clashes_get_the_server_prefix() -> None:
    names = exposed_names(
        [("time", "now"), ("tokyo", "get_time"), ("paris", "get_time"), ("fs", "read_file")],
        reserved=["read_file"],
    )
    assert names == {
        ("time", "now"): "now",
        ("tokyo", "get_time"): "tokyo__get_time",
        ("paris", "get_time"): "paris__get_time",
        ("fs", "read_file"): "fs__read_file",
    }


def test_names_hearth_cannot_use_are_cleaned_and_bounded() -> None:
    assert tool_name("files.read/v2") == "files_read_v2"
    long = tool_name("x" * 100)
    assert len(long) == 64 and long != tool_name("x" * 99)


def _result(*content: object, structured: object = None, error: bool = False) -> str:
    result = types.CallToolResult(content=list(content), structured_content=structured,
                                  is_error=error)  # type: ignore[arg-type]  # fmt: skip
    out = tool_result(result)
    assert out.is_error is error
    return out.content


def test_results_as_text() -> None:
    text = types.TextContent(type="text", text="hello")
    image = types.ImageContent(type="image", data="aGVsbG8=", mime_type="image/png")
    assert _result(text, image) == "hello\n[image: image/png, 5 bytes (not shown)]"
    link = types.ResourceLink(
        type="resource_link", name="a", uri="file:///a", mime_type="text/plain"
    )
    assert _result(link) == "[resource link: a file:///a (text/plain)]"
    embedded = types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
        uri="file:///b", text="inside"))  # fmt: skip
    assert _result(embedded) == "[resource file:///b]\ninside"
    same = types.TextContent(type="text", text='{"t": 1}')
    assert _result(same, structured={"t": 1}) == '{"t": 1}'
    assert _result(structured={"t": 2}) == 'structured content: {"t": 2}'
    assert _result() == "(the tool returned no content)"
    assert _result(types.TextContent(type="text", text="bad"), error=True) == "bad"


def _call(name: str) -> ToolCallPart:
    return ToolCallPart("c1", name, "{}")


def _decide(hooks: Hooks, name: str) -> object:
    toolset = SimpleNamespace(approval_reason=lambda n: "it is destructive" if n == "rm" else None)
    wrapped = with_approval(hooks, toolset)  # type: ignore[arg-type]
    assert wrapped.pre_tool is not None
    return asyncio.run(call_hook(wrapped.pre_tool(_call(name))))


def test_destructive_tools_need_approval_after_the_users_hook() -> None:
    asked: list[str] = []

    def approve(c: ToolCallPart, reason: str) -> bool:
        asked.append(reason)
        return c.arguments == "{}"

    assert _decide(Hooks(), "ls") is None
    assert _decide(Hooks(), "rm") == Deny(
        "it is destructive, so it needs approval, and no approval callback is set"
    )
    assert _decide(Hooks(approve=approve), "rm") is None and asked == ["it is destructive"]
    # the user's hook decides first: a Deny or an Ask is final, a Rewrite still needs approval
    assert _decide(Hooks(pre_tool=lambda c: Deny("no"), approve=approve), "rm") == Deny("no")
    assert _decide(Hooks(pre_tool=lambda c: Ask("why"), approve=approve), "rm") == Ask("why")
    rewrite = Rewrite({"a": 1})
    assert _decide(Hooks(pre_tool=lambda c: rewrite, approve=approve), "rm") == rewrite
    assert _decide(Hooks(pre_tool=lambda c: Allow(), approve=lambda c, r: False), "rm") == Deny(
        "not approved (it is destructive)")  # fmt: skip


def test_elicitation_defaults() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "default": "x"},
                                               "b": {"type": "integer"}}}  # fmt: skip
    assert defaults(schema) == {"a": "x"}  # type: ignore[arg-type]


def test_a_tool_reports_progress_as_steps_before_its_result() -> None:
    @tool
    async def slow(n: int) -> str:
        """Count slowly."""
        for i in range(1, n + 1):
            await asyncio.sleep(0.01)
            report_progress(i, n, f"step {i}")
        return "counted"

    @tool
    def sync_slow() -> str:
        """Report from a worker thread."""
        report_progress(0.5)
        time.sleep(0.05)
        return "done"

    model, _ = fake_model(calls(call("slow", '{"n": 3}'), call("sync_slow")), answer("ok"))
    steps = list(Agent(model, [slow, sync_slow]).iter("count"))

    def kinds(name: str) -> list[str]:
        return [s.kind for s in steps if s.kind in ("tool_progress", "tool_result")
                and s.call.name == name]  # fmt: skip

    # each call's progress comes before its result (the calls run at the same time)
    assert kinds("slow") == ["tool_progress"] * 3 + ["tool_result"]
    assert kinds("sync_slow") == ["tool_progress", "tool_result"]
    first = next(s for s in steps if isinstance(s, ToolProgressStep) and s.call.name == "slow")
    assert (first.progress, first.total, first.message) == (1, 3, "step 1")


def test_report_progress_outside_a_call_does_nothing() -> None:
    report_progress(1, 2, "nobody listens")


def test_list_changed_refreshes_the_tools() -> None:
    from hearth.mcp import MCPServer
    from hearth.mcp.connection import Connection

    listed = [types.Tool(name="a", input_schema={"type": "object"})]
    changed: list[tuple[str, ...]] = []

    class Session:  # what a connection asks of a live session when the list changes
        async def list_tools(self, params: object = None) -> types.ListToolsResult:
            return types.ListToolsResult(tools=list(listed))

    async def scenario() -> None:
        def seen(c: Connection) -> None:
            changed.append(tuple(t.name for t in c.tools))

        conn = Connection(MCPServer("s", command="unused"), on_tools_changed=seen)
        conn._session = Session()  # type: ignore[assignment]
        listed.append(types.Tool(name="b", input_schema={"type": "object"}))
        await conn._on_message(types.ToolListChangedNotification())
        while conn._background:
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert changed == [("a", "b")]
