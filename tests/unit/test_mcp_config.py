"""MCP server descriptions: Python, [mcp.servers.NAME] tables, mcpServers JSON files and
--mcp strings; each mistake is an error saying what was wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hearth.config import load_config
from hearth.errors import ConfigFileError, InvalidRequestError
from hearth.mcp import MCPServer, load_mcp_json, parse_server_option
from hearth.mcp_spec import name_from_command


def test_a_server_is_a_command_or_a_url() -> None:
    assert MCPServer("time", command="mcp-server-time").transport == "stdio"
    assert MCPServer("docs", url="https://example.com/mcp").transport == "http"
    with pytest.raises(InvalidRequestError, match=r"give either command .* or url"):
        MCPServer("both", command="x", url="https://example.com/mcp")
    with pytest.raises(InvalidRequestError, match="give either command"):
        MCPServer("neither")
    with pytest.raises(InvalidRequestError, match="must start with http:// or https://"):
        MCPServer("docs", url="ftp://example.com")
    with pytest.raises(InvalidRequestError, match="the name must be"):
        MCPServer("has space", command="x")
    with pytest.raises(InvalidRequestError, match="headers and bearer_token_env apply to url"):
        MCPServer("x", command="x", headers={"A": "b"})
    with pytest.raises(InvalidRequestError, match="call_timeout must be a positive number"):
        MCPServer("x", command="x", call_timeout=0)
    with pytest.raises(InvalidRequestError, match="name an environment variable"):
        MCPServer("x", url="https://e.com", bearer_token_env="sk-123 secret")


def test_the_bearer_token_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    server = MCPServer("docs", url="https://e.com/mcp", headers={"X-A": "1"},
                       bearer_token_env="DOCS_TOKEN")  # fmt: skip
    monkeypatch.delenv("DOCS_TOKEN", raising=False)
    with pytest.raises(InvalidRequestError, match=r"DOCS_TOKEN .* is not set"):
        server.http_headers()
    monkeypatch.setenv("DOCS_TOKEN", "t0k")
    assert server.http_headers() == {"X-A": "1", "Authorization": "Bearer t0k"}


def test_mcp_option_strings() -> None:
    configured = {"docs": MCPServer("docs", url="https://e.com/mcp")}
    assert parse_server_option("docs", configured) is configured["docs"]
    url = parse_server_option("http://127.0.0.1:3001/mcp", configured)
    assert (url.url, url.name) == ("http://127.0.0.1:3001/mcp", "http")
    cmd = parse_server_option(f"{sys.executable} -m some_server --flag 'a b'", configured)
    assert (cmd.command, cmd.args) == (sys.executable, ("-m", "some_server", "--flag", "a b"))
    assert cmd.name == "some_server"
    with pytest.raises(InvalidRequestError, match="no MCP server of that name is configured"):
        parse_server_option("nosuchserver", configured)
    with pytest.raises(InvalidRequestError, match="not a command line"):
        parse_server_option("cmd 'unclosed", configured)


@pytest.mark.parametrize(
    ("words", "name"),
    [
        (["npx", "-y", "@modelcontextprotocol/server-everything"], "server-everything"),
        (["uvx", "mcp-server-time"], "mcp-server-time"),
        (["/usr/bin/python3", "-m", "my_server"], "my_server"),
        (["node", "dist/index.js"], "index"),
        (["mcp-server-git", "--repository", "."], "mcp-server-git"),
    ],
)
def test_names_from_command_lines(words: list[str], name: str) -> None:
    assert name_from_command(words) == name


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_mcp_tables_in_the_config_file(tmp_path: Path) -> None:
    path = _config(tmp_path, """
[mcp.servers.time]
command = "mcp-server-time"
args = ["--local-timezone", "UTC"]
env = { TZ = "UTC" }
cwd = "work"
tools = ["get_current_time"]
require_approval = "always"
sampling = true
startup_timeout = 5
call_timeout = 7.5

[mcp.servers.docs]
url = "https://example.com/mcp"
headers = { "X-Team" = "a" }
bearer_token_env = "DOCS_TOKEN"
""")  # fmt: skip
    servers = load_config(path).mcp_servers
    time = servers["time"]
    assert (time.command, time.args, dict(time.env)) == (
        "mcp-server-time", ("--local-timezone", "UTC"), {"TZ": "UTC"})  # fmt: skip
    assert time.cwd == str(tmp_path / "work")
    assert (time.tools, time.require_approval, time.sampling) == (
        ("get_current_time",),
        "always",
        True,
    )
    assert (time.startup_timeout, time.call_timeout) == (5.0, 7.5)
    docs = servers["docs"]
    assert (docs.url, dict(docs.headers), docs.bearer_token_env) == (
        "https://example.com/mcp", {"X-Team": "a"}, "DOCS_TOKEN")  # fmt: skip
    assert (docs.tools, docs.require_approval, docs.sampling) == (None, "destructive", False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[mcp.servers.t]\ncomand = "x"\n',
         ":2: unknown key mcp.servers.t.comand (did you mean 'command'?)"),
        ('[mcp.servers.t]\ncommand = "x"\nurl = "http://a"\n', "give either command"),
        ('[mcp.servers.t]\ncommand = "x"\nrequire_approval = "sometimes"\n',
         "mcp.servers.t.require_approval must be one of destructive, always, never"),
        ('[mcp.servers.t]\ncommand = "x"\nenv = { A = 1 }\n',
         "mcp.servers.t.env must be a table of strings"),
        ('[mcp.servers."bad name"]\ncommand = "x"\n', "MCP server name 'bad name' must be"),
        ('[mcp]\nserver = 1\n', "unknown key mcp.server (did you mean 'servers'?)"),
    ],
)  # fmt: skip
def test_mcp_table_mistakes_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigFileError) as e:
        load_config(_config(tmp_path, text))
    assert message in str(e.value)


def test_config_show_masks_env_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.cli import run_cli

    path = _config(tmp_path, '[mcp.servers.t]\ncommand = "x"\nenv = { KEY = "sk-secret" }\n')
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    code, out, _ = run_cli(["config", "show"], capsys)
    assert code == 0
    assert "[mcp.servers.t]" in out and 'command = "x"' in out
    assert "sk-secret" not in out and "KEY" in out


def test_mcp_servers_json_file(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps({"mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
        "docs": {"type": "http", "url": "https://example.com/mcp", "headers": {"A": "b"}},
        "off": {"command": "x", "disabled": True},
        "cline": {"command": "y", "autoApprove": ["a"], "timeout": 60},
    }}))  # fmt: skip
    servers = load_mcp_json(path)
    assert sorted(servers) == ["cline", "docs", "time"]
    assert (servers["time"].command, servers["time"].args) == ("uvx", ("mcp-server-time",))
    assert servers["docs"].url == "https://example.com/mcp"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"servers": {}}, 'expected a JSON object with an "mcpServers" object'),
        ({"mcpServers": {"a": {"command": 1}}}, "mcpServers.a: command must be a string"),
        ({"mcpServers": {"a": {"command": "x", "args": "y"}}}, "args must be an array of strings"),
        ({"mcpServers": {"a": {"type": "sse", "url": "http://x"}}}, "not the older SSE transport"),
        ({"mcpServers": {"a": {}}}, "mcpServers.a: give either command"),
    ],
)
def test_mcp_servers_json_mistakes(tmp_path: Path, document: object, message: str) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigFileError) as e:
        load_mcp_json(path)
    assert str(path) in str(e.value) and message in str(e.value)


def test_mcp_json_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": ')
    with pytest.raises(ConfigFileError, match="not valid JSON"):
        load_mcp_json(path)
    with pytest.raises(ConfigFileError, match="no such file"):
        load_mcp_json(tmp_path / "missing.json")


def test_import_hearth_loads_no_mcp_module() -> None:
    code = (
        "import sys, hearth, hearth.agent, hearth.config; hearth.config.load_config(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types') "
        "or m.startswith('hearth.mcp')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
