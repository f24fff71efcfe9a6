"""The output file of a batch run: resumable, one flushed line per finished request.

A run appends to the file, writing each result as one line and flushing it at once, so a crash
or Ctrl-C loses nothing that was finished. A re-run reads the file first (:func:`finished`):
the ``custom_id`` of every complete line is skipped, and a torn last line (the process died in
the middle of writing it) is cut off, so its request runs again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject


def finished(path: Path) -> set[str]:
    """The custom_ids the output file already answers (none when it does not exist). A torn
    last line is cut off; a line that is not an output line is an error (the file is not a
    batch output: name another)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror or exc}") from None
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with path.open("r+b") as handle:
            handle.truncate(keep)
        data = data[:keep]
    done: set[str] = set()
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        custom_id = _custom_id(raw)
        if custom_id is None:
            raise InvalidRequestError(
                f"{path}:{number} is not a batch output line (a JSON object with a custom_id); "
                "is -o the right file? Name a new file, or delete this one to start over"
            )
        done.add(custom_id)
    return done


def _custom_id(raw: bytes) -> str | None:
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    custom_id = line.get("custom_id") if isinstance(line, dict) else None
    return custom_id if isinstance(custom_id, str) else None


class OutputFile:
    """The output file, open for appending; :meth:`write` puts one line and flushes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle: IO[str] = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise InvalidRequestError(f"cannot write {path}: {exc.strerror or exc}") from None

    def write(self, line: JsonObject) -> None:
        from hearth.batch.lines import dumps

        self._handle.write(dumps(line))
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
