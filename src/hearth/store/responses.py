"""Stored responses of ``hearth serve``'s ``/v1/responses``: one table, ``responses``, in the
same SQLite file as the conversation store (:func:`hearth.store.default_path` unless the server
is given another).

A row holds what the API needs later:

* ``body`` — the response object as ``GET /v1/responses/{id}`` returns it;
* ``input_items`` — this response's input items, as ``GET …/input_items`` lists them;
* ``context`` — the whole conversation up to and including this response's output, as
  versioned hearth JSON (:mod:`hearth.history`), without the request's ``instructions``
  (OpenAI does not carry them to the next response either). A request with
  ``previous_response_id`` continues from it, with one read, and it survives the deletion of
  earlier responses in the chain. None until the response has an answer.

Writes use WAL with ``synchronous=NORMAL``: a committed row survives the server being killed;
only a power cut may lose the last ones (a cache of answers, unlike the conversation store's
turns, which are written with ``FULL``). One server per file: opening the store marks the
responses another process left ``queued`` or ``in_progress`` as ``failed``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hearth.history import dumps, loads
from hearth.messages import JsonObject, JsonValue, Message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    input_items TEXT NOT NULL,
    context TEXT
)
"""
UNFINISHED = ("queued", "in_progress")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One stored response (see the module docstring)."""

    id: str
    created: float
    body: JsonObject
    input_items: tuple[JsonObject, ...] = ()
    context: tuple[Message, ...] | None = None

    @property
    def status(self) -> str:
        return str(self.body.get("status", ""))


class ResponseStore:
    """Stored responses in one SQLite file. Safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._db.execute(_SCHEMA)
            self._db.execute(
                "UPDATE responses SET status = 'failed', body = json_set(body, '$.status', "
                "'failed', '$.error', json(?)) WHERE status IN (?, ?)",
                (_RESTARTED, *UNFINISHED),
            )

    def put(self, stored: StoredResponse) -> None:
        """Insert or replace ``stored`` (one transaction)."""
        context = None if stored.context is None else dumps(stored.context)
        row = (
            stored.id,
            stored.created,
            stored.status,
            json.dumps(stored.body, ensure_ascii=False),
            json.dumps(list(stored.input_items), ensure_ascii=False),
            context,
        )
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (id, created, status, body, input_items, "
                "context) VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )

    def get(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, created, body, input_items, context FROM responses WHERE id = ?",
                (response_id,),
            ).fetchone()
        if row is None:
            return None
        rid, created, body, items, context = row
        parsed_items: list[JsonValue] = json.loads(items)
        return StoredResponse(
            str(rid),
            float(created),
            json.loads(body),
            tuple(i for i in parsed_items if isinstance(i, dict)),
            None if context is None else tuple(loads(context)),
        )

    def delete(self, response_id: str) -> bool:
        """Delete a stored response; False if there was none."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM responses WHERE id = ?", (response_id,))
        return cursor.rowcount > 0

    def ids(self) -> Sequence[str]:
        """Every stored id, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM responses ORDER BY created").fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


_RESTARTED = json.dumps({
    "code": "server_error",
    "message": "the server stopped before this background response finished; create it again",
})  # fmt: skip
