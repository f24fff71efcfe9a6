"""An MCP tool result as the text a model reads.

Text blocks are kept as they are. Images and audio become a line saying what they were (a
local model cannot see them, and base64 in a prompt is noise); resources give their text, or a
line naming a binary one; ``structuredContent`` is added as JSON unless a text block already
says the same. ``isError`` becomes the result's ``is_error``. The agent then cuts the text at
its ``max_tool_output`` bound, as for any tool.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING

from hearth.tools import ToolResult

if TYPE_CHECKING:
    import mcp_types as types


def tool_result(result: types.CallToolResult) -> ToolResult:
    pieces = [block_text(block) for block in result.content]
    structured = result.structured_content
    if structured is not None and not any(_same_json(p, structured) for p in pieces):
        pieces.append("structured content: " + json.dumps(structured, ensure_ascii=False))
    text = "\n".join(p for p in pieces if p)
    if not text:
        text = "(the tool returned no content)"
    return ToolResult(text, is_error=bool(result.is_error))


def block_text(block: object) -> str:
    import mcp_types as types

    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        return f"[{block.type}: {block.mime_type}, {_size(block.data)} (not shown)]"
    if isinstance(block, types.ResourceLink):
        about = f" - {block.description}" if block.description else ""
        mime = f" ({block.mime_type})" if block.mime_type else ""
        return f"[resource link: {block.name} {block.uri}{mime}]{about}"
    if isinstance(block, types.EmbeddedResource):
        res = block.resource
        if isinstance(res, types.TextResourceContents):
            return f"[resource {res.uri}]\n{res.text}"
        mime = res.mime_type or "binary"
        return f"[resource {res.uri}: {mime}, {_size(res.blob)} (not shown)]"
    kind = getattr(block, "type", type(block).__name__)
    return f"[{kind} content (not shown)]"


def _size(data: str) -> str:
    try:
        n = len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        n = len(data)
    return f"{n} bytes"


def _same_json(text: str, value: object) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False
