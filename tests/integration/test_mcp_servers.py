"""hearth.mcp against real MCP servers that no one here wrote: mcp-server-time and
mcp-server-git (PyPI, stdio) and server-everything (npm, stdio and streamable HTTP). The agent
runs on FakeBackend scripts, so what is tested is the MCP side; every test checks that no
server process outlives it."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from tests.support.agent import answer, call, calls, fake_model
from tests.support.mcp import (
    command_line,
    descendants,
    everything,
    everything_over_http,
    git_server,
    no_children_left,  # noqa: F401 - the fixture every test uses
    silent_server,
    time_server,
)

from hearth.agent import Agent, Hooks, ToolProgressStep, ToolResultStep, TurnComplete
from hearth.errors import MCPServerError
from hearth.mcp import MCPServer, MCPToolset

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90), pytest.mark.usefixtures(
    "no_children_left")]  # fmt: skip

EVERYTHING_TOOLS = {
    "echo", "get-annotated-message", "get-env", "get-resource-links", "get-resource-reference",
    "get-structured-content", "get-sum", "get-tiny-image", "gzip-file-as-resource",
    "toggle-simulated-logging", "toggle-subscriber-updates", "trigger-long-running-operation",
}  # fmt: skip


def test_lists_the_tools_of_two_servers_with_their_schemas() -> None:
    with MCPToolset([time_server(), everything()]) as mcp:
        mcp.connect()
        names = set(mcp.tools)
        statuses = {s.name: s for s in mcp.status()}
    assert {"get_current_time", "convert_time"} <= names
    assert names >= EVERYTHING_TOOLS
    assert statuses["time"].state == statuses["everything"].state == "ready"
    time_tool = statuses["time"].tools
    assert {t.name for t in time_tool} == {"get_current_time", "convert_time"}
    assert all(t.read_only and t.approval is None for t in time_tool)


def test_every_simple_tool_of_server_everything() -> None:
    data = "data:text/plain;base64," + base64.b64encode(b"hello " * 50).decode()
    with MCPToolset([everything()]) as mcp:
        mcp.connect()

        def run(tool: str, **arguments: object) -> str:
            result = mcp.tools[tool].run(json.dumps(arguments))
            assert not result.is_error, (tool, result.content)
            return result.content

        assert run("echo", message="hi there") == "Echo: hi there"
        assert "42" in run("get-sum", a=40, b=2)
        assert "[image: image/png," in run("get-tiny-image")
        assert run("get-structured-content", location="Chicago").startswith("{")
        assert "error" in run("get-annotated-message", messageType="error").lower()
        assert "[image: image/png," in run("get-annotated-message", messageType="success",
                                           includeImage=True)  # fmt: skip
        assert "PATH" in run("get-env")
        assert run("get-resource-links", count=2).count("[resource link:") == 2
        assert "[resource " in run("get-resource-reference", resourceType="Text", resourceId=2)
        assert "[resource " in run("gzip-file-as-resource", name="hi.gz", data=data,
                                   outputType="resource")  # fmt: skip
        assert run("toggle-simulated-logging")
        assert run("toggle-subscriber-updates")
        assert "completed" in run("trigger-long-running-operation", duration=0.2, steps=2)
        bad = mcp.tools["get-sum"].run('{"a": 1}')  # checked before it reaches the server
    assert bad.is_error and "'b' is a required property" in bad.content


def test_a_tool_error_is_an_error_result_the_model_reads() -> None:
    with MCPToolset([time_server()]) as mcp:
        mcp.connect()
        result = mcp.tools["get_current_time"].run('{"timezone": "Nowhere/Atlantis"}')
    assert result.is_error
    assert "Nowhere/Atlantis" in result.content


def test_long_running_tool_reports_progress_in_the_agent_steps() -> None:
    model, _ = fake_model(
        calls(call("trigger-long-running-operation", '{"duration": 1, "steps": 4}')),
        answer("done"),
    )
    with Agent(model, mcp_servers=[everything()]) as agent:
        steps = list(agent.iter("run it"))
    progress = [s for s in steps if isinstance(s, ToolProgressStep)]
    assert [(p.progress, p.total) for p in progress] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    kinds = [s.kind for s in steps]
    assert kinds.index("tool_progress") < kinds.index("tool_result")
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.outcome == "ok" and "completed" in result.result.content


def test_cancel_stops_a_long_call_and_the_server_keeps_working() -> None:
    model, _ = fake_model(
        calls(call("trigger-long-running-operation", '{"duration": 30, "steps": 30}')),
        calls(call("echo", '{"message": "still here"}')),
        answer("ok"),
    )
    with Agent(model, mcp_servers=[everything()]) as agent:
        started = time.monotonic()
        steps = []
        for step in agent.iter("go"):
            steps.append(step)
            if isinstance(step, ToolProgressStep):
                agent.cancel()
        assert time.monotonic() - started < 20
        end = steps[-1]
        assert isinstance(end, TurnComplete) and end.result.stop_reason == "cancelled"
        result = next(s for s in steps if isinstance(s, ToolResultStep))
        assert result.outcome == "cancelled"
        again = [s for s in agent.iter("again") if isinstance(s, ToolResultStep)]
    assert again[0].outcome == "ok" and again[0].result.content == "Echo: still here"


def _server_pid(marker: str) -> int:
    for pid in descendants():
        if marker in command_line(pid) and "node" in command_line(pid):
            return pid
    raise AssertionError(f"no process running {marker}")


def test_a_server_killed_mid_call_gives_an_error_and_the_next_call_restarts_it() -> None:
    with MCPToolset([everything()]) as mcp:
        mcp.connect()
        pid = _server_pid("server-everything")
        killer = threading.Timer(1.0, os.kill, (pid, signal.SIGKILL))
        killer.start()
        slow = mcp.tools["trigger-long-running-operation"]
        result = slow.run('{"duration": 20, "steps": 20}')
        killer.join()
        assert result.is_error
        assert "stopped during the call" in result.content
        assert "started again on the next call" in result.content
        again = mcp.tools["echo"].run('{"message": "back"}')
        assert (again.is_error, again.content) == (False, "Echo: back")
        assert _server_pid("server-everything") != pid


def test_a_server_that_never_answers_initialize_times_out_clearly() -> None:
    started = time.monotonic()
    with (
        MCPToolset([silent_server(startup_timeout=1.5)]) as mcp,
        pytest.raises(MCPServerError) as e,
    ):
        mcp.connect()
    assert time.monotonic() - started < 15
    message = str(e.value)
    assert "'silent'" in message and "within 1.5 s" in message
    assert "raise startup_timeout" in message


def test_a_command_that_does_not_exist_is_a_clear_error() -> None:
    server = MCPServer("nope", command="/no/such/mcp-server")
    with MCPToolset([server]) as mcp, pytest.raises(MCPServerError) as e:
        mcp.connect()
    assert "no such command" in str(e.value) and "/no/such/mcp-server" in str(e.value)


def test_two_servers_with_the_same_tool_names_get_prefixes() -> None:
    model, backend = fake_model(
        calls(call("paris__get_current_time", '{"timezone": "Europe/Paris"}')),
        answer("ok"),
    )
    with Agent(model, mcp_servers=[time_server("tokyo"), time_server("paris")]) as agent:
        steps = list(agent.iter("time in Paris?"))
    offered = {t.name for t in backend.requests[0].tools}
    assert {"tokyo__get_current_time", "paris__get_current_time", "tokyo__convert_time",
            "paris__convert_time"} == offered  # fmt: skip
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.outcome == "ok" and "Europe/Paris" in result.result.content


def test_an_mcp_tool_named_like_an_agent_tool_gets_the_prefix() -> None:
    from hearth.tools import tool

    @tool
    def echo(message: str) -> str:
        """Echo locally."""
        return message

    model, backend = fake_model(answer("hi"))
    with Agent(model, [echo], mcp_servers=[everything("ev", tools=("echo", "get-sum"))]) as agent:
        agent.run("hi")
    assert {t.name for t in backend.requests[0].tools} == {"echo", "ev__echo", "get-sum"}


def test_allow_list_and_destructive_approval_with_mcp_server_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "first.txt").write_text("1\n")
    subprocess.run([*git, "add", "first.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    (repo / "a.txt").write_text("a\n")
    subprocess.run([*git, "add", "a.txt"], check=True)
    server = git_server(repo, tools=("git_status", "git_reset"))
    args = json.dumps({"repo_path": str(repo)})
    asked: list[str] = []

    def run(approve: bool | None) -> list[ToolResultStep]:
        model, backend = fake_model(calls(call("git_status", args)),
                                    calls(call("git_reset", args)), answer("ok"))  # fmt: skip
        hooks = Hooks() if approve is None else Hooks(
            approve=lambda c, reason: asked.append(reason) or approve)  # fmt: skip
        with Agent(model, mcp_servers=[server], hooks=hooks, max_rounds=5) as agent:
            steps = list(agent.iter("status, then reset"))
        assert {t.name for t in backend.requests[0].tools} == {"git_status", "git_reset"}
        return [s for s in steps if isinstance(s, ToolResultStep)]

    status, reset = run(None)
    assert status.outcome == "ok" and "a.txt" in status.result.content
    assert reset.outcome == "denied" and "destructive" in reset.result.content
    status, reset = run(False)
    assert reset.outcome == "denied" and asked == [
        "'git_reset' of MCP server 'git' is marked destructive"
    ]
    short = ["git", "-C", str(repo), "status", "--short"]
    assert subprocess.run(short, capture_output=True, text=True, check=True).stdout == "A  a.txt\n"
    status, reset = run(True)
    assert reset.outcome == "ok", reset.result.content
    assert subprocess.run(short, capture_output=True, text=True, check=True).stdout == "?? a.txt\n"


def test_streamable_http() -> None:
    with everything_over_http() as url:
        with MCPToolset([MCPServer("remote", url=url)]) as mcp:
            mcp.connect()
            assert mcp.tools["echo"].run('{"message": "over http"}').content == "Echo: over http"
            progress = mcp.tools["trigger-long-running-operation"].run(
                '{"duration": 0.2, "steps": 2}')  # fmt: skip
        assert "completed" in progress.content


def test_list_changed_and_sampling_answered_by_the_agents_model() -> None:
    model, _ = fake_model(
        calls(call("trigger-sampling-request", '{"prompt": "say hi", "maxTokens": 20}')),
        answer("Hello from the fake model"),  # the server's sampling request
        answer("done"),
    )
    # the server adds trigger-sampling-request after initialize, when the client offers
    # sampling, and says so with notifications/tools/list_changed
    with Agent(model, mcp_servers=[everything(sampling=True)]) as agent:
        deadline = time.monotonic() + 10
        steps = list(agent.iter("sample"))
        assert time.monotonic() < deadline + 30
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.outcome == "ok", result.result.content
    assert "Hello from the fake model" in result.result.content


def test_without_sampling_the_server_does_not_get_to_ask() -> None:
    with MCPToolset([everything()]) as mcp:
        mcp.connect()
        time.sleep(0.5)
        assert "trigger-sampling-request" not in mcp.tools


def test_elicitation_goes_to_the_approval_callback() -> None:
    asked: list[str] = []

    def approve(c: object, reason: str) -> bool:
        asked.append(reason)
        return False

    model, _ = fake_model(calls(call("trigger-elicitation-request")), answer("ok"))
    with Agent(model, mcp_servers=[everything()], hooks=Hooks(approve=approve)) as agent:
        steps = list(agent.iter("ask me"))
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert asked and asked[0].startswith("MCP server 'everything' asks:")
    assert "decline" in result.result.content.lower()


def test_closing_the_agent_stops_its_servers_after_an_exception() -> None:
    before = descendants()
    model, _ = fake_model(calls(call("echo", '{"message": "x"}')), answer("ok"))
    with (
        pytest.raises(RuntimeError, match="boom"),
        Agent(model, mcp_servers=[everything(), time_server()]) as agent,
    ):
        agent.run("go")
        assert len(descendants() - before) >= 2
        raise RuntimeError("boom")
    assert not descendants() - before  # stopped by close(), not later


def test_a_hung_server_times_out_and_is_restarted_on_the_next_call() -> None:
    with MCPToolset([everything(call_timeout=2, startup_timeout=10)]) as mcp:
        mcp.connect()
        pid = _server_pid("server-everything")
        os.kill(pid, signal.SIGSTOP)  # alive, but answers nothing
        try:
            hung = mcp.tools["echo"].run('{"message": "anyone?"}')
            assert hung.is_error
            assert "'echo' of MCP server 'everything' did not answer within 2 s" in hung.content
            again = mcp.tools["echo"].run('{"message": "back"}')  # ping fails: restart
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        assert (again.is_error, again.content) == (False, "Echo: back")
        assert _server_pid("server-everything") != pid


def test_server_output_is_cut_like_any_tool_output_and_descriptions_are_text() -> None:
    long = "x" * 500
    model, backend = fake_model(calls(call("echo", json.dumps({"message": long}))), answer("ok"))
    with Agent(model, mcp_servers=[everything()], max_tool_output=100) as agent:
        steps = list(agent.iter("echo"))
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.truncated
    assert result.result.content.startswith("Echo: xxx")
    assert (
        "[… output truncated by hearth: 406 of 506 characters not shown]" in result.result.content
    )
    offered = {t.name: t for t in backend.requests[0].tools}
    assert offered["echo"].description == "Echoes back the input string"
    assert offered["echo"].parameters["required"] == ["message"]


def test_an_elicit_callback_answers_with_content() -> None:
    from hearth.mcp import Elicitation

    asked: list[Elicitation] = []

    def elicit(request: Elicitation) -> dict[str, object]:
        asked.append(request)
        return {"name": "Ada Lovelace", "check": True}

    with MCPToolset([everything()], elicit=elicit) as mcp:
        mcp.connect()
        result = mcp.tools["trigger-elicitation-request"].run("{}")
    assert not result.is_error, result.content
    assert "Ada Lovelace" in result.content
    assert asked[0].server == "everything"
    assert asked[0].schema is not None and asked[0].schema["required"] == ["name"]


def test_concurrent_calls_to_one_server_run_together() -> None:
    slow = '{"duration": 1.5, "steps": 3}'
    model, _ = fake_model(
        calls(*(call("trigger-long-running-operation", slow, id=f"c{i}") for i in range(4)),
              call("echo", '{"message": "with them"}', id="c4")),
        answer("ok"),
    )  # fmt: skip
    with Agent(model, mcp_servers=[everything()]) as agent:
        started = time.monotonic()
        steps = list(agent.iter("five calls at once"))
        took = time.monotonic() - started
    results = [s for s in steps if isinstance(s, ToolResultStep)]
    assert [r.call.id for r in results] == ["c0", "c1", "c2", "c3", "c4"]
    assert all(r.outcome == "ok" for r in results)
    assert results[-1].result.content == "Echo: with them"
    progress = [s for s in steps if isinstance(s, ToolProgressStep)]
    assert {p.call.id for p in progress} == {"c0", "c1", "c2", "c3"}
    assert took < 4 * 1.5, took  # together, not one after another (start-up included)


def test_cancel_while_a_server_is_starting() -> None:
    model, _ = fake_model(answer("never asked"))
    agent = Agent(model, mcp_servers=[silent_server(startup_timeout=60)])
    threading.Timer(1.0, agent.cancel).start()
    started = time.monotonic()
    with agent:
        result = agent.run("hi")
    assert result.stop_reason == "cancelled"
    assert time.monotonic() - started < 20
