"""Opt-in file tools confined to one root directory: read_file, list_dir, write_file,
search_files.

>>> agent = Agent(model, fs_tools("./project"))            # read and write
>>> agent = Agent(model, fs_tools("./project", write=False))

Every path the model gives is taken relative to the root (an absolute path must point inside
it) and opened beneath the root's descriptor one component at a time, never following a symlink
in the kernel (:mod:`hearth.agent.rootdir`): ``..``, absolute paths elsewhere and symlinks
leading out of the root are refused, and no race (a symlink swapped in between a check and the
open) can change that. Only regular files with one hard link are read or written: FIFOs,
sockets and device nodes are refused before they are opened, and a hard link may be a file
outside the root. Writes do not follow a symlink at the final component. search_files takes
regular expressions of the ``regex`` library with a time limit (a catastrophic pattern fails
instead of holding the process), skips what it may not read, and survives symlink loops.
Outputs are bounded and every cut says so. There is no shell tool.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import time
from collections.abc import Iterator
from typing import Annotated, BinaryIO

import regex as re
from pydantic import Field

from hearth.agent.rootdir import PathOutsideRootError, RootDir, kind_of, open_beneath
from hearth.errors import InvalidRequestError
from hearth.tools import Tool

__all__ = ["PathOutsideRootError", "fs_tools"]

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
"""In the schema the pattern; at run time :class:`RootDir` takes the path beneath the root."""
SEARCH_SECONDS = 20.0
"""The most time one search_files call spends matching (a regex that takes longer fails)."""
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv"})


def fs_tools(
    root: str | os.PathLike[str],
    *,
    write: bool = True,
    max_read_chars: int = MAX_READ_CHARS,
    timeout: float | None = READ_TOOL_TIMEOUT,
) -> list[Tool]:
    """The file tools for ``root``; ``write=False`` leaves out write_file. ``timeout``
    (seconds) bounds read_file, list_dir and search_files (a huge tree, a slow regex)."""
    try:
        box = RootDir(root)
    except NotADirectoryError as exc:
        raise InvalidRequestError(str(exc)) from None

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
            query: the text to look for (a regular expression if regex is true)
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


def _read(box: RootDir, path: str, offset: int, limit: int) -> str:
    if offset < 0:
        raise ValueError(f"offset {offset} is negative")
    shown = box.show(box.parts(path))
    with os.fdopen(box.open_file(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8192)
        if b"\0" in head:
            return f"[{shown} is a binary file of {size} bytes; not shown]"
        f.seek(0)
        if size > MAX_WHOLE_READ_BYTES:
            return _read_piece(f, offset, limit, size)
        text = f.read().decode("utf-8", errors="replace")
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


def _read_piece(raw: BinaryIO, offset: int, limit: int, size: int) -> str:
    """``limit`` characters from ``offset`` of a big file, reading no more than that."""
    f = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
    skipped = 0
    while skipped < offset:
        got = len(f.read(min(offset - skipped, 1 << 20)))
        if not got:
            break
        skipped += got
    piece = f.read(limit)
    more = bool(f.read(1))
    f.detach()
    if offset and not piece:
        raise ValueError(f"offset {offset} is outside the file ({skipped} characters)")
    if more:
        piece += (
            f"\n[… the rest of this {size}-byte file not shown; "
            f"call read_file with offset={offset + len(piece)} to continue]"
        )
    return piece


def _list(box: RootDir, path: str) -> str:
    fd = box.open_dir(path)
    try:
        with os.scandir(fd) as it:
            entries = sorted(it, key=lambda e: e.name)
        lines = [_entry_line(entry, fd) for entry in entries[:MAX_ENTRIES]]
    finally:
        os.close(fd)
    if len(entries) > MAX_ENTRIES:
        lines.append(f"[… {len(entries) - MAX_ENTRIES} more entries not shown]")
    return "\n".join(lines) if lines else f"[{box.show(box.parts(path))} is empty]"


def _entry_line(entry: os.DirEntry[str], at: int) -> str:
    try:
        st = os.stat(entry.name, dir_fd=at, follow_symlinks=False)
    except OSError:
        return f"{entry.name}  (vanished)"
    if stat.S_ISLNK(st.st_mode):
        return f"{entry.name} -> (symlink)"
    if stat.S_ISDIR(st.st_mode):
        return entry.name + "/"
    if not stat.S_ISREG(st.st_mode):
        return f"{entry.name}  ({kind_of(st.st_mode)})"
    return f"{entry.name}  ({st.st_size} bytes)"


def _write(box: RootDir, path: str, content: str) -> str:
    if len(content) > MAX_WRITE_CHARS:
        raise ValueError(f"content is {len(content)} characters; the limit is {MAX_WRITE_CHARS}")
    shown = box.show(box.parts(path))
    if shown == ".":
        raise IsADirectoryError(f"{path!r} is a directory")
    data = content.encode("utf-8")
    fd = box.open_file(path, write=True)
    with os.fdopen(fd, "wb") as f:
        f.truncate(0)
        f.write(data)
    return f"wrote {len(content)} characters to {shown}"


def _search(box: RootDir, query: str, path: str, regex: bool) -> str:
    if not query:
        raise ValueError("query is empty")
    try:
        pattern = re.compile(query if regex else re.escape(query))
    except re.error as exc:
        raise ValueError(f"query is not a valid regular expression: {exc}") from None
    deadline = time.monotonic() + SEARCH_SECONDS
    parts = box.parts(path)
    top = box.open_dir(path)
    matches: list[str] = []
    more = skipped = 0
    try:
        for shown, text in _searchable(box, top, parts):
            if text is None:
                skipped += 1
                continue
            for lineno, line in _matching_lines(text, pattern, deadline, shown):
                if len(matches) < MAX_MATCHES:
                    matches.append(f"{shown}:{lineno}: {_cut(line)}")
                else:
                    more += 1
    finally:
        os.close(top)
    top_shown = box.show(parts)
    if not matches:
        return f"no matches for {query!r} under {top_shown}"
    if more:
        matches.append(f"[… {more} more matches not shown; narrow the search]")
    if skipped:
        matches.append(f"[{skipped} hard-linked or special files not searched]")
    return "\n".join(matches)


def _searchable(box: RootDir, top: int, parts: list[str]) -> Iterator[tuple[str, str | None]]:
    """(shown path, text or None when it may not be read) of each file under ``top``, in
    order. Directories are entered by descriptor, never through a symlink; symlinked files are
    resolved beneath the root (one that leads out, or in a loop, is passed over)."""
    for dirpath, dirnames, filenames, at in os.fwalk(".", dir_fd=top, follow_symlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel = [p for p in dirpath.split("/") if p not in ("", ".")]
        for name in sorted(filenames):
            shown = box.show([*parts, *rel, name])
            try:
                fd = _open_for_search(box, at, name, shown)
            except (PathOutsideRootError, OSError):
                yield shown, None
                continue
            if fd is None:
                continue
            with os.fdopen(fd, "rb") as f:
                if os.fstat(f.fileno()).st_size > MAX_SEARCH_FILE_BYTES:
                    continue
                data = f.read(MAX_SEARCH_FILE_BYTES + 1)
            if b"\0" not in data[:8192]:
                yield shown, data.decode("utf-8", errors="replace")


def _open_for_search(box: RootDir, at: int, name: str, shown: str) -> int | None:
    """A descriptor of a file to search, or None to pass over it without a word (a symlink
    that leads out of the root or nowhere)."""
    st = os.stat(name, dir_fd=at, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        return open_beneath(at, name, shown)
    try:
        return box.open_file(shown)
    except (PathOutsideRootError, FileNotFoundError, IsADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise


def _matching_lines(
    text: str, pattern: re.Pattern[str], deadline: float, shown: str
) -> Iterator[tuple[int, str]]:
    for lineno, line in enumerate(text.splitlines(), 1):
        left = deadline - time.monotonic()
        try:
            if left > 0 and pattern.search(line, timeout=left, concurrent=True):
                yield lineno, line
                continue
        except TimeoutError:
            pass
        if left <= 0 or time.monotonic() >= deadline:
            raise TimeoutError(
                f"the search took more than {SEARCH_SECONDS:g} s (stopped in {shown} at line "
                f"{lineno}); the regular expression may backtrack catastrophically: simplify "
                "it or search a smaller directory"
            )


def _cut(line: str) -> str:
    line = line.strip()
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + f" […{len(line) - MAX_LINE_CHARS} more characters]"
