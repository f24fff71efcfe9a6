"""Reading one TOML table with its key path: :class:`Fields` checks each value's type and
range, refuses unknown keys (with a did-you-mean) and raises :class:`SchemaError` naming the key.
Shared by every part of the config parser (:mod:`hearth.config.parse`, :mod:`hearth.config.mcp`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from hearth._secret import Secret
from hearth.config.lines import KeyPath, dotted

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SchemaError(Exception):
    """What is wrong, and at which key path."""

    def __init__(self, path: KeyPath, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(message)


def shown(value: object) -> str:
    """A short description of a TOML value for an error message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    """Typed reads from one TOML table, each error naming the key's path."""

    def __init__(self, table: object, path: KeyPath, allowed: Sequence[str]) -> None:
        if not isinstance(table, dict):
            raise SchemaError(path, f"{dotted(path)} must be a table, got {shown(table)}")
        self.table: dict[str, object] = table
        self.path = path
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SchemaError(
                    (*path, key),
                    f"unknown key {dotted((*path, key))}{hint}; expected one of: "
                    f"{', '.join(allowed)}",
                )

    def at(self, key: str) -> KeyPath:
        return (*self.path, key)

    def fail(self, key: str, expected: str, value: object = None, echo: bool = True) -> SchemaError:
        got = f", got {shown(value)}" if echo else ""
        return SchemaError(self.at(key), f"{dotted(self.at(key))} must be {expected}{got}")

    def string(self, key: str, *, required: str | None = None) -> str | None:
        """A non-empty string; ``required`` explains the key when it must be there."""
        value = self.table.get(key)
        if value is None:
            if required is not None:
                where = dotted(self.path) or "the top level"
                raise SchemaError(self.path, f"{where} needs {key!r}: {required}")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string", value)
        return value

    def integer(self, key: str, low: int, high: int | None = None) -> int | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, "an integer", value)
        if value < low or (high is not None and value > high):
            span = f"at least {low}" if high is None else f"between {low} and {high}"
            raise self.fail(key, span, value)
        return value

    def number(self, key: str) -> float | None:
        """A positive number."""
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
            raise self.fail(key, "a positive number of seconds", value)
        return float(value)

    def strings(self, key: str, pattern: re.Pattern[str] | None = None) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "an array of strings", value)
        for item in value:
            if pattern is not None and not pattern.fullmatch(item):
                raise self.fail(key, "an array of names (letters, digits, '.', '_', '-')", item)
        return tuple(value)

    def choice(
        self, key: str, choices: Sequence[str], *, required: str | None = None
    ) -> str | None:
        value = self.string(key, required=required)
        if value is not None and value not in choices:
            raise self.fail(key, f"one of {', '.join(choices)}", value)
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def env_name(self, key: str) -> str | None:
        """The name of an environment variable (never echoed: it might be a pasted key)."""
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
            raise SchemaError(
                self.at(key),
                f"{dotted(self.at(key))} must name the environment variable that holds the key "
                "(e.g. OPENAI_API_KEY), not hold the key itself; the value is not shown",
            )
        return value

    def secret(self, key: str) -> Secret | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(key, "a non-empty string (the value is not shown)", echo=False)
        return Secret(value)
