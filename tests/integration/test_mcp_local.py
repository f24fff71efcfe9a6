"""MCP end to end: SmolLM2 under tool_choice="required" calls mcp-server-time's tool and
answers with the time it returned, from Python and from `hearth agent`; and the CLI's MCP
commands and errors as a user sees them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.cli import run_cli
from tests.support.mcp import (
    SILENT,
    descendants,
    no_children_left,  # noqa: F401 - the fixture every test uses
    time_server,
    wait_until_gone,
)

import hearth
from hearth.agent import Agent, ToolResultStep, TurnComplete
from hearth.settings import GenerationSettings

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("no_children_left")]

CLOCK = re.compile(r"T(\d\d:\d\d)")


def _hhmm(tool_output: str) -> str:
    found = CLOCK.search(json.loads(tool_output)["datetime"])
    assert found, tool_output
    return found[1]


@pytest.mark.timeout(600)  # seconds when the machine is idle; minutes on a shared, busy one
def test_smollm2_calls_an_mcp_tool_and_answers_with_its_result(smollm2: hearth.Model) -> None:
    agent = Agent(
        smollm2,
        mcp_servers=[time_server()],
        settings=GenerationSettings(temperature=0, max_tokens=64),
        tool_choice="required",
        followup_tool_choice="none",
        max_rounds=3,
    )
    with agent:
        steps = list(agent.iter("What time is it in Tokyo?"))
    result = next(s for s in steps if isinstance(s, ToolResultStep))
    assert result.call.name == "get_current_time"
    assert result.outcome == "ok", result.result.content
    assert "Asia/Tokyo" in result.arguments
    end = steps[-1]
    assert isinstance(end, TurnComplete) and end.result.stop_reason == "end_turn"
    assert _hhmm(result.result.content) in end.result.text, end.result.text


def _hearth(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("hearth")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("HEARTH_DEBUG", None)
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600,
                          env=env, check=False)  # fmt: skip


@pytest.mark.timeout(660)
def test_hearth_agent_answers_with_the_time_the_mcp_tool_returned() -> None:
    done = _hearth("agent", "What time is it in Tokyo?", "--mcp", "mcp-server-time",
                   "--tool-choice", "required", "--no-save")  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == '→ get_current_time(timezone="Asia/Tokyo")', done.stdout
    assert lines[1].startswith("  ← {"), done.stdout
    answer = "\n".join(lines[2:])
    assert _hhmm(lines[1].removeprefix("  ← ")) in answer, done.stdout


@pytest.mark.timeout(60)
def test_hearth_mcp_list(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    servers = tmp_path / "mcp.json"  # one server from an mcpServers file, one from the config
    servers.write_text(json.dumps({"mcpServers": {"clock": {"command": time_server().command}}}))
    config = tmp_path / "config.toml"
    config.write_text(
        f"[mcp.servers.silent]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(SILENT))}]\nstartup_timeout = 2\n"
    )
    monkeypatch.setenv("HEARTH_CONFIG", str(config))
    code, out, err = run_cli(
        ["mcp", "list", "--mcp-config", str(servers), "--mcp", "clock"], capsys
    )
    assert code == 0, err
    assert out.splitlines()[0].startswith("clock  (stdio: ") and "ready, 2 tools" in out
    assert "  get_current_time  Get current time in a specific timezone" in out
    code, out, err = run_cli(["mcp", "list", "--mcp-config", str(servers), "--json"], capsys)
    assert code == 0, err
    listed = {s["name"]: s for s in json.loads(out)}
    assert listed["clock"]["state"] == "ready"
    assert {t["name"] for t in listed["clock"]["tools"]} == {"get_current_time", "convert_time"}
    assert listed["silent"]["state"] == "failed" and "within 2 s" in listed["silent"]["error"]


@pytest.mark.timeout(60)
def test_hearth_agent_mcp_errors_are_one_line(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:  # fmt: skip
    code, _, err = run_cli(["agent", "hi", "--no-save", "--mcp", "no-such-mcp-server"], capsys)
    assert code == 1
    assert err.startswith("error: --mcp 'no-such-mcp-server': no MCP server of that name")
    assert len(err.splitlines()) == 1
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"gone": {"command": "/no/such/binary"}}}))
    argv = ["agent", "hi", "--no-save", "--mcp-config", str(config), "--mcp", "gone"]
    code, _, err = run_cli(argv, capsys)
    assert code == 1 and len(err.splitlines()) == 1
    assert "MCP server 'gone' (/no/such/binary) could not be started: no such command" in err
    before = descendants()
    assert not wait_until_gone(before)
