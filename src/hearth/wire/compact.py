"""Compact JSON for stream frames, and templates that skip most of the encoding.

A streamed answer sends one frame per token, and at tens of tokens a second per stream the
server's JSON encoding is a measurable share of the CPU that llama.cpp decodes on.
:func:`compact_json` is the one encoding every frame uses (no spaces, UTF-8 kept as is), with
an encoder built once instead of at every call. :class:`JsonTemplate` is a frame's JSON
encoded once with a hole for one string (a text delta's text): filling it encodes only that
string, and gives exactly what :func:`compact_json` gives for the whole object.
"""

from __future__ import annotations

import json

from hearth.messages import JsonObject

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
_HOLE = "\x00hearth-template-hole\x00"


def compact_json(data: object) -> str:
    """``data`` as compact JSON (``json.dumps(data, separators=(",", ":"),
    ensure_ascii=False)``)."""
    return _ENCODE(data)


class JsonTemplate:
    """``data`` encoded once, with the string at :data:`HOLE` left open: :meth:`fill` gives
    ``compact_json(data)`` with ``text`` in its place."""

    HOLE = _HOLE
    __slots__ = ("_head", "_tail")

    def __init__(self, data: JsonObject) -> None:
        encoded = compact_json(data)
        hole = compact_json(_HOLE)
        if encoded.count(hole) != 1:
            raise ValueError("a JSON template holds JsonTemplate.HOLE exactly once")
        self._head, self._tail = encoded.split(hole)

    def fill(self, text: str) -> str:
        return self._head + _ENCODE(text) + self._tail
