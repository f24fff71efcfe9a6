"""Tools from Model Context Protocol servers, for the agent, the CLI and your own code.

>>> from hearth.agent import Agent
>>> from hearth.mcp import MCPServer
>>> time = MCPServer("time", command="mcp-server-time")
>>> with Agent("local:smollm2", mcp_servers=[time], tool_choice="required") as agent:
...     print(agent.run("What time is it in Tokyo?").text)

Importing this package is light: the ``mcp`` SDK loads when a server is first started.
"""

from hearth.mcp.json_file import load_mcp_json, parse_mcp_json
from hearth.mcp.requests import Elicitation, ElicitCallback
from hearth.mcp.toolset import MCPToolInfo, MCPToolset, ServerStatus
from hearth.mcp_spec import ApprovalPolicy, MCPServer, parse_server_option

__all__ = [
    "ApprovalPolicy",
    "ElicitCallback",
    "Elicitation",
    "MCPServer",
    "MCPToolInfo",
    "MCPToolset",
    "ServerStatus",
    "load_mcp_json",
    "parse_mcp_json",
    "parse_server_option",
]
