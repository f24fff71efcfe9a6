"""Plain metavars in ``--help``: ``TEXT``, ``INTEGER``, ``FLOAT``, ``PATH`` (``PATH...`` for a
repeatable one) and nothing after a flag, where this typer shows Python type names
(``<str>``, ``<list[Path]>``, ``<bool>``). Applied once, when the app is built; a typer
without the hook it wraps is left as it is."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "bool": "BOOLEAN"}
_LIST = re.compile(r"^list\[(.*)\]$")


def plain(label: str) -> str:
    """``<str>`` → ``TEXT``, ``<list[Path]>`` → ``PATH...``, ``<int range>`` → ``INTEGER``."""
    inner = label.removeprefix("<").removesuffix(">")
    many = _LIST.match(inner)
    if many is not None:
        return plain(many[1]) + "..."
    if "|" in inner:  # choices
        return f"[{inner}]"
    head = inner.split()[0] if inner.split() else inner
    return NAMES.get(head.lower(), head.upper())


def use_plain_metavars() -> None:
    from typer import core

    cls: Any = getattr(core, "_TyperParameter", None)
    original: Callable[..., str] | None = getattr(cls, "display_type", None)
    if original is None or getattr(original, "hearth_plain", False):
        return

    def display_type(self: Any, ctx: Any) -> str:
        if getattr(self, "is_flag", False):
            return ""
        return plain(original(self, ctx))

    display_type.hearth_plain = True  # type: ignore[attr-defined]
    cls.display_type = display_type
