"""Full-text search over stored conversations (``hearth logs -q``): an SQLite FTS5 table,
``turns_fts``, holding the text of each turn (every message's text, tool results included),
written in the same transaction as the turn."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from hearth.errors import InvalidRequestError
from hearth.history import messages_from_data
from hearth.messages import Message

CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS turns_fts USING fts5("
    "conversation_id UNINDEXED, idx UNINDEXED, body, tokenize = 'unicode61')"
)


def turn_text(messages: Sequence[Message]) -> str:
    return "\n".join(m.text for m in messages if m.text)


def setup(db: sqlite3.Connection, old_version: int) -> None:
    """Create the index inside the caller's transaction; a store written before it existed
    (schema 1) has its turns indexed now."""
    db.execute(CREATE)
    if old_version == 1:
        rows = db.execute("SELECT conversation_id, idx, messages FROM turns").fetchall()
        for cid, idx, body in rows:
            add(db, cid, idx, turn_text(messages_from_data(json.loads(body))))


def add(db: sqlite3.Connection, cid: str, idx: int, text: str) -> None:
    db.execute(
        "INSERT INTO turns_fts (conversation_id, idx, body) VALUES (?, ?, ?)", (cid, idx, text)
    )


def remove(db: sqlite3.Connection, cid: str) -> None:
    db.execute("DELETE FROM turns_fts WHERE conversation_id = ?", (cid,))


def match_query(text: str) -> str:
    """``text`` as an FTS5 query that finds every word in it (each quoted, so ``-``, ``:``
    or ``AND`` in what a user typed is searched for, not read as query syntax)."""
    words = text.split()
    if not words:
        raise InvalidRequestError("the search text is empty; e.g. hearth logs -q banana")
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def search_ids(db: sqlite3.Connection, text: str, limit: int | None) -> list[str]:
    """The ids of conversations with a turn holding every word of ``text``, best match first."""
    sql = (
        "SELECT conversation_id FROM (SELECT conversation_id, rank FROM turns_fts"
        " WHERE turns_fts MATCH ?) GROUP BY conversation_id ORDER BY MIN(rank)"
    )
    params: tuple[object, ...] = (match_query(text),)
    if limit is not None:
        sql += " LIMIT ?"
        params = (*params, limit)
    return [str(row[0]) for row in db.execute(sql, params).fetchall()]
