"""Opt-in file tools confined to one root directory: read_file, list_dir, write_file,
search_files.

>>> agent = Agent(model, fs_tools("./project"))            # read and write
>>> agent = Agent(model, fs_tools("./project", write=False))

Every path the model gives is relative to the root: the tools' schemas admit no absolute path
(:data:`RELATIVE_PATH`) and their descriptions say so. Paths are resolved through symlinks
*before* the check, so ``..`` and symlinks leading out of the root are refused. Writes do not
follow a symlink at the final component. Outputs are bounded and every cut says so. There is no
shell tool.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field

from hearth.errors import InvalidRequestError
from hearth.tools import Tool

MAX_READ_CHARS = 20_000
MAX_ENTRIES = 500
MAX_MATCHES = 100
MAX_LINE_CHARS = 200
MAX_WRITE_CHARS = 1_000_000
MAX_SEARCH_FILE_BYTES = 2_000_000
MAX_WHOLE_READ_BYTES = 8_000_000  # bigger files are read piece by piece, never whole
READ_TOOL_TIMEOUT = 60.0
RELATIVE_PATH = r"^([^/\\].*)?$"
"""The tools' ``path`` parameters admit relative paths only: a model told nothing about the root
wrote ``/Users/…`` paths, and under constrained decoding it now cannot."""
RelativePath = Annotated[str, Field(json_schema_extra={"pattern": RELATIVE_PATH})]
"""In the schema the pattern; at run time :meth:`Sandbox.resolve` refuses an absolute path with a
message saying what to write instead."""
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv"})


class PathOutsideRootError(PermissionError):
    """The path leads outside the tools' root directory."""


class Sandbox:
    """Resolves paths the model gives into real paths inside ``root``, or refuses them."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        resolved = Path(root).expanduser().resolve()
        if not resolved.is_dir():
            raise InvalidRequestError(f"the tools' root {root!s} is not a directory")
        self.root = resolved

    def resolve(self, path: str) -> Path:
        raw = Path(path or ".")
        if ".." in raw.parts:
            raise PathOutsideRootError(f"'..' is not allowed in paths ({path!r}); stay in the root")
        if raw.is_absolute() or path.startswith(("/", "\\")):
            raise PathOutsideRootError(
                f"{path!r} is an absolute path; paths are relative to the root directory, "
                "such as '.' (the root) or 'notes/todo.txt'"
            )
        real = (self.root / raw).resolve()
        if not real.is_relative_to(self.root):
            raise PathOutsideRootError(
                f"{path!r} is outside the root directory (a symlink that leads outside it); "
                "use paths relative to the root, such as '.'"
            )
        return real

    def show(self, real: Path) -> str:
        rel = real.relative_to(self.root).as_posix()
        return rel if rel != "." else "."


def fs_tools(
    root: str | os.PathLike[str],
    *,
    write: bool = True,
    max_read_chars: int = MAX_READ_CHARS,
    timeout: float | None = READ_TOOL_TIMEOUT,
) -> list[Tool]:
    """The file tools for ``root``; ``write=False`` leaves out write_file. ``timeout``
    (seconds) bounds read_file, list_dir and search_files (a huge tree, a slow regex)."""
    box = Sandbox(root)

    def read_file(path: RelativePath, offset: int = 0) -> str:
        """Read a text file under the root. Paths are relative to the root ('.' is the root).

        Args:
            path: the file's path, relative to the root
            offset: the character to start at (for long files read in pieces)
        """
        return _read(box, path, offset, max_read_chars)

    def list_dir(path: RelativePath = ".") -> str:
        """List a directory under the root: one entry per line, directories end with '/'.
        Paths are relative to the root ('.' is the root).

        Args:
            path: the directory, relative to the root ('.' is the root)
        """
        return _list(box, path)

    def write_file(path: RelativePath, content: str) -> str:
        """Create or overwrite a text file under the root (parent directories are created).
        Paths are relative to the root ('.' is the root).

        Args:
            path: the file's path, relative to the root
            content: the whole new content of the file
        """
        return _write(box, path, content)

    def search_files(query: str, path: RelativePath = ".", regex: bool = False) -> str:
        """Find lines containing text in the files under a directory of the root.
        Paths are relative to the root ('.' is the root).

        Args:
            query: the text to look for (a Python regular expression if regex is true)
            path: the directory to search, relative to the root
            regex: treat query as a regular expression
        """
        return _search(box, query, path, regex)

    tools = [  # list_dir first: a small model leans towards the first tool it is shown
        Tool.from_function(list_dir, timeout=timeout),
        Tool.from_function(read_file, timeout=timeout),
        Tool.from_function(search_files, timeout=timeout),
    ]
    if write:
        tools.append(Tool.from_function(write_file, concurrent=False))
    return tools



def _read(box: Sandbox, path: str, offset: int, limit: int) -> str:
    real = box.resolve(path)
    if not real.is_file():
        raise FileNotFoundError(f"no file {path!r} under the root")
    size = real.stat().st_size
    with real.open("rb") as f:
        head = f.read(8192)
    if b"\0" in head:
        return f"[{box.show(real)} is a binary file of {size} bytes; not shown]"
    if offset < 0:
        raise ValueError(f"offset {offset} is negative")
    if size > MAX_WHOLE_READ_BYTES:
        return _read_piece(real, offset, limit, size)
    text = real.read_bytes().decode("utf-8", errors="replace")
    if offset and offset >= len(text):
        raise ValueError(f"offset {offset} is outside the file ({len(text)} characters)")
    piece = text[offset : offset + limit]
    rest = len(text) - offset - len(piece)
    if rest > 0:
        piece += (
            f"\n[… {rest} more characters of {len(text)} not shown; "
            f"call read_file with offset={offset + len(piece)} to continue]"
        )
    return piece


def _read_piece(real: Path, offset: int, limit: int, size: int) -> str:
    """``limit`` characters from ``offset`` of a big file, reading no more than that."""
    with real.open(encoding="utf-8", errors="replace", newline="") as f:
        skipped = 0
        while skipped < offset:
            got = len(f.read(min(offset - skipped, 1 << 20)))
            if not got:
                break
            skipped += got
        piece = f.read(limit)
        more = bool(f.read(1))
    if offset and not piece:
        raise ValueError(f"offset {offset} is outside the file ({skipped} characters)")
    if more:
        piece += (
            f"\n[… the rest of this {size}-byte file not shown; "
            f"call read_file with offset={offset + len(piece)} to continue]"
        )
    return piece


def _list(box: Sandbox, path: str) -> str:
    real = box.resolve(path)
    if not real.is_dir():
        raise NotADirectoryError(f"{path!r} is not a directory under the root")
    entries = sorted(real.iterdir(), key=lambda p: p.name)
    lines = []
    for entry in entries[:MAX_ENTRIES]:
        if entry.is_symlink():
            lines.append(f"{entry.name} -> (symlink)")
        elif entry.is_dir():
            lines.append(entry.name + "/")
        else:
            lines.append(f"{entry.name}  ({entry.stat().st_size} bytes)")
    if len(entries) > MAX_ENTRIES:
        lines.append(f"[… {len(entries) - MAX_ENTRIES} more entries not shown]")
    return "\n".join(lines) if lines else f"[{box.show(real)} is empty]"


def _write(box: Sandbox, path: str, content: str) -> str:
    if len(content) > MAX_WRITE_CHARS:
        raise ValueError(f"content is {len(content)} characters; the limit is {MAX_WRITE_CHARS}")
    real = box.resolve(path)
    if real == box.root or real.is_dir():
        raise IsADirectoryError(f"{path!r} is a directory")
    real.parent.mkdir(parents=True, exist_ok=True)
    box.resolve(path)  # a parent created meanwhile must not lead out either
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(real, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    return f"wrote {len(content)} characters to {box.show(real)}"


def _search(box: Sandbox, query: str, path: str, regex: bool) -> str:
    if not query:
        raise ValueError("query is empty")
    pattern = re.compile(query if regex else re.escape(query))
    top = box.resolve(path)
    if not top.is_dir():
        raise NotADirectoryError(f"{path!r} is not a directory under the root")
    matches: list[str] = []
    more = 0
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            file = Path(dirpath) / name
            real = file.resolve()
            if not real.is_relative_to(box.root) or not real.is_file():
                continue
            found = _search_file(real, pattern)
            shown = box.show(file)
            for lineno, line in found:
                if len(matches) < MAX_MATCHES:
                    matches.append(f"{shown}:{lineno}: {_cut(line)}")
                else:
                    more += 1
    if not matches:
        return f"no matches for {query!r} under {box.show(top)}"
    if more:
        matches.append(f"[… {more} more matches not shown; narrow the search]")
    return "\n".join(matches)


def _search_file(real: Path, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    if real.stat().st_size > MAX_SEARCH_FILE_BYTES:
        return []
    data = real.read_bytes()
    if b"\0" in data[:8192]:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return [(i, line) for i, line in enumerate(lines, 1) if pattern.search(line)]


def _cut(line: str) -> str:
    line = line.strip()
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + f" […{len(line) - MAX_LINE_CHARS} more characters]"
