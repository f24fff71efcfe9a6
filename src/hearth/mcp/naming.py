"""The names models see for MCP tools.

A tool keeps its own name when no other server's tool (and none of the agent's own tools) has
it. Otherwise every tool of that name is exposed as ``SERVER__NAME``. Characters a tool name may
not have in hearth (anything but letters, digits, ``_`` and ``-``) become ``_``, and a name is at
most 64 characters.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

_BAD = re.compile(r"[^A-Za-z0-9_-]")
MAX = 64
SEPARATOR = "__"


def tool_name(name: str) -> str:
    """``name`` as a valid hearth tool name (a long one keeps a hash of the rest)."""
    clean = _BAD.sub("_", name) or "tool"
    if len(clean) <= MAX:
        return clean
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{clean[: MAX - 9]}_{digest}"


def exposed_names(
    tools: Sequence[tuple[str, str]], reserved: Iterable[str] = ()
) -> dict[tuple[str, str], str]:
    """``(server, tool)`` → the name the model sees; unique, and none of ``reserved``."""
    taken = set(reserved)
    counts = Counter(tool_name(tool) for _, tool in tools)
    names: dict[tuple[str, str], str] = {}
    for server, tool in tools:
        base = tool_name(tool)
        name = base
        if counts[base] > 1 or base in taken:
            name = tool_name(f"{server}{SEPARATOR}{base}")
        n = 2
        while name in taken:  # e.g. a server's tool already named "a__b"
            name = tool_name(f"{server}{SEPARATOR}{base}_{n}")
            n += 1
        taken.add(name)
        names[(server, tool)] = name
    return names
