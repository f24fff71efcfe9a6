"""The registry of wire formats: name → :class:`~hearth.wire.base.WireFormat`. The only place
that lists the formats.

A format's package is imported when the format is first asked for (``import hearth`` loads
none of them). Adding a format is one package under ``hearth/wire/`` that exports ``FORMAT``,
plus one line in :data:`_LOADERS`; see docs/adding-a-wire-format.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType

from hearth.errors import ConfigurationError
from hearth.wire.base import WireFormat


def _openai() -> WireFormat:
    from hearth.wire.openai import FORMAT

    return FORMAT


def _anthropic() -> WireFormat:
    from hearth.wire.anthropic import FORMAT

    return FORMAT


def _gemini() -> WireFormat:
    from hearth.wire.gemini import FORMAT

    return FORMAT


def _ollama() -> WireFormat:
    from hearth.wire.ollama import FORMAT

    return FORMAT


def _responses() -> WireFormat:
    from hearth.wire.responses import FORMAT

    return FORMAT


_LOADERS: Mapping[str, Callable[[], WireFormat]] = MappingProxyType(
    {
        "openai": _openai,
        "anthropic": _anthropic,
        "gemini": _gemini,
        "ollama": _ollama,
        "responses": _responses,
    }
)

FORMAT_NAMES: tuple[str, ...] = tuple(_LOADERS)
"""Every wire format hearth speaks, by name."""


def check_format_name(name: str, source: str = "wire format") -> str:
    """``name`` if it names a format, else a ConfigurationError listing the formats."""
    if name not in _LOADERS:
        raise ConfigurationError(
            f"{source} {name!r} is not a wire format hearth speaks; use one of "
            f"{', '.join(FORMAT_NAMES)}"
        )
    return name


@cache
def get_format(name: str) -> WireFormat:
    """The format called ``name`` (its package is imported on first use)."""
    return _LOADERS[check_format_name(name)]()
