"""Reading an endpoint's wire options (:data:`hearth.wire.base.WireOptions`) with their types
checked: a mistyped option in an endpoint row or a config table is a ConfigurationError that
names it, never a silent default."""

from __future__ import annotations

from hearth.errors import ConfigurationError
from hearth.wire.base import WireOptions


def option_str(options: WireOptions, key: str, default: str) -> str:
    value = options.get(key, default)
    if not isinstance(value, str):
        raise ConfigurationError(f"wire option {key} must be a string, got {value!r}")
    return value


def option_bool(options: WireOptions, key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ConfigurationError(f"wire option {key} must be true or false, got {value!r}")
    return value
