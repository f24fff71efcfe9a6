"""Where each key of a TOML document is defined, so a schema error can name its line.

:mod:`tomllib` gives positions only for syntax errors. :func:`key_lines` walks the text of a
document tomllib has already accepted and maps every table header and ``key = value`` line to
its key path, with array-of-tables elements numbered: ``("models", 1, "name")`` is the ``name``
key of the second ``[[models]]`` table. Keys inside inline tables and multi-line arrays are not
mapped; :func:`line_of` then falls back to the nearest enclosing key that is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


def _quoted(text: str, pos: int) -> tuple[str, int] | None:
    """The quoted key starting at ``text[pos]`` and the position after it."""
    quote = text[pos]
    out: list[str] = []
    i = pos + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            return "".join(out), i + 1
        if char == "\\" and quote == '"' and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "uU":
                width = 4 if nxt == "u" else 8
                try:
                    out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
                except ValueError:
                    return None
                i += 2 + width
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return None


def parse_key(text: str) -> tuple[list[str], str] | None:
    """A dotted key at the start of ``text`` and the text after it; None if there is none."""
    keys: list[str] = []
    i = 0
    while True:
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] in "\"'":
            found = _quoted(text, i)
            if found is None:
                return None
            key, i = found
        else:
            match = _BARE.match(text, i)
            if match is None:
                return None
            key, i = match.group(), match.end()
        keys.append(key)
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == ".":
            i += 1
            continue
        return keys, text[i:]


class _ValueScanner:
    """Follows strings and brackets across lines to find where a value ends."""

    def __init__(self) -> None:
        self.depth = 0
        self.mode: str | None = None  # the open string's delimiter

    def feed(self, text: str) -> bool:
        """Scan one line; True when the value is complete at its end."""
        i = 0
        while i < len(text):
            i = self._step(text, i)
            if i < 0:
                break
        if self.mode in ('"', "'"):
            self.mode = None  # a one-line string cannot continue (tomllib accepted the text)
        return self.mode is None and self.depth <= 0

    def _step(self, text: str, i: int) -> int:
        """Consume from ``text[i]``; the next position, or -1 at a comment."""
        mode, char = self.mode, text[i]
        if mode is None:
            for delimiter in ('"""', "'''", '"', "'"):
                if text.startswith(delimiter, i):
                    self.mode = delimiter
                    return i + len(delimiter)
            if char == "#":
                return -1
            self.depth += char in "[{"
            self.depth -= char in "]}"
            return i + 1
        if char == "\\" and mode in ('"', '"""'):
            return i + 2
        if text.startswith(mode, i):
            end = i + len(mode)
            while len(mode) == 3 and text.startswith(mode[0], end) and end - i < 5:
                end += 1  # up to two quotes may precede a multi-line string's closing three
            self.mode = None
            return end
        return i + 1


def _concrete(keys: Sequence[str], arrays: Mapping[KeyPath, int]) -> KeyPath:
    """A header's key path with the current element index after each array of tables."""
    path: KeyPath = ()
    for key in keys:
        path = (*path, key)
        if path in arrays:
            path = (*path, arrays[path] - 1)
    return path


def key_lines(text: str) -> dict[KeyPath, int]:
    """Key path → 1-based line of its definition, for every header and ``key =`` line."""
    lines = text.splitlines()
    found: dict[KeyPath, int] = {}
    arrays: dict[KeyPath, int] = {}
    table: KeyPath = ()
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        number = index + 1
        index += 1
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            is_array = stripped.startswith("[[")
            parsed = parse_key(stripped[2 if is_array else 1 :])
            if parsed is None:
                continue
            keys = parsed[0]
            if is_array:
                array = (*_concrete(keys[:-1], arrays), keys[-1])
                arrays[array] = arrays.get(array, 0) + 1
                found.setdefault(array, number)
                table = (*array, arrays[array] - 1)
            else:
                table = _concrete(keys, arrays)
            found.setdefault(table, number)
            continue
        parsed = parse_key(stripped)
        if parsed is None or not parsed[1].startswith("="):
            continue
        keys, rest = parsed
        for end in range(1, len(keys) + 1):
            found.setdefault((*table, *keys[:end]), number)
        scanner = _ValueScanner()
        done = scanner.feed(rest[1:])
        while not done and index < len(lines):
            done = scanner.feed(lines[index])
            index += 1
    return found


def line_of(path: KeyPath, lines: Mapping[KeyPath, int]) -> int | None:
    """The line of ``path``, else of its nearest mapped parent; None for the top level."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def dotted(path: KeyPath) -> str:
    """``("models", 1, "name")`` → ``models[1].name``; quoted where a key is not bare."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            text = key if _BARE.fullmatch(key) else '"' + key.replace('"', '\\"') + '"'
            out += f".{text}" if out else text
    return out
