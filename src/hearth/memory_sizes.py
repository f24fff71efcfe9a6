"""Sizes of memory as people write them (``8GiB``, ``512M``, ``1.5g``), read as bytes."""

from __future__ import annotations

import re

from hearth.errors import InvalidRequestError

_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(i?b?)\s*", re.I)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_memory(text: str) -> int:
    """``"8GiB"``, ``"512M"``, ``"1.5g"`` or a number of bytes, as bytes (binary units)."""
    match = _SIZE.fullmatch(text)
    if match is None or float(match[1]) <= 0:
        raise InvalidRequestError(
            f"memory budget: expected a size such as 8GiB, 512MiB or 1.5G, got {text!r}"
        )
    return int(float(match[1]) * _UNITS[match[2].lower()])
