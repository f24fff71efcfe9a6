"""The SQLite conversation store: stdlib ``sqlite3`` in WAL mode, one transaction per turn.

Tables:

* ``conversations`` — id, title, model, system prompt, times, and ``context``: the working
  history (versioned JSON) when it differs from the plain log of turns (after compaction);
* ``turns`` — one row per completed turn: its new messages, stop reason and usage;
* ``turns_fts`` — the text of each turn, for full-text search (:mod:`hearth.store.fts`).

A turn is written in a single ``BEGIN IMMEDIATE … COMMIT``, so a process killed mid-write leaves
the database with every earlier turn intact and the unfinished one absent. A new conversation and
its first turn are one transaction too (:meth:`ConversationStore.start`), so no empty
conversation is left behind. ``synchronous=FULL``
makes a committed turn survive power loss too.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from hearth.errors import InvalidRequestError
from hearth.events import Usage
from hearth.history import dumps, loads, messages_from_data, messages_to_data, to_document
from hearth.messages import JsonObject, JsonValue, Message
from hearth.store import fts

SCHEMA_VERSION = 2
DB_NAME = "conversations.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    model TEXT,
    system TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    context TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    created REAL NOT NULL,
    messages TEXT NOT NULL,
    stop_reason TEXT,
    usage TEXT,
    PRIMARY KEY (conversation_id, idx)
);
"""


class ConversationNotFoundError(InvalidRequestError):
    def __init__(self, ref: str, *, ambiguous: Sequence[str] = ()) -> None:
        self.ref = ref
        if ambiguous:
            msg = (
                f"conversation id {ref!r} is ambiguous: it starts {len(ambiguous)} ids "
                f"({', '.join(ambiguous[:5])}); give more characters"
            )
        else:
            msg = f"no conversation {ref!r} in the store; `hearth logs` lists them"
        super().__init__(msg)


def default_path() -> Path:
    """``$HEARTH_HOME/conversations.db`` if set, else the platform's user data dir for hearth."""
    home = os.environ.get("HEARTH_HOME")
    if home:
        return Path(home).expanduser() / DB_NAME
    import platformdirs

    return platformdirs.user_data_path("hearth") / DB_NAME


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    id: str
    title: str
    model: str | None
    system: str | None
    created: float
    updated: float
    turns: int


@dataclass(frozen=True, slots=True)
class StoredTurn:
    index: int
    created: float
    messages: tuple[Message, ...]
    stop_reason: str | None
    usage: Usage


@dataclass(frozen=True, slots=True)
class StoredConversation:
    info: ConversationInfo
    turns: tuple[StoredTurn, ...]
    context: tuple[Message, ...] | None

    @property
    def log(self) -> list[Message]:
        """Every message ever exchanged, system prompt first (nothing compacted)."""
        head = [Message.system(self.info.system)] if self.info.system is not None else []
        return head + [m for t in self.turns for m in t.messages]

    @property
    def messages(self) -> list[Message]:
        """The history to continue from: the compacted context if there is one, else the log."""
        return list(self.context) if self.context is not None else self.log


class ConversationStore:
    """Conversations in one SQLite file. Safe to share between threads; open one per process."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA foreign_keys = ON")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InvalidRequestError(
                f"{self.path} was written by a newer hearth (store schema {version}); upgrade"
            )
        with self._tx() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            fts.setup(db, version)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writing ---------------------------------------------------------------------------

    def create(
        self, *, title: str = "", model: str | None = None, system: str | None = None
    ) -> str:
        """A new empty conversation; returns its id. To save a first turn with it, use
        :meth:`start` (one transaction: never an empty conversation left by a crash)."""
        cid = uuid.uuid4().hex[:12]
        with self._tx() as db:
            _insert_conversation(db, cid, title, model, system, time.time())
        return cid

    def start(
        self,
        messages: Sequence[Message],
        *,
        title: str = "",
        model: str | None = None,
        system: str | None = None,
        stop_reason: str | None = None,
        usage: Usage | None = None,
        context: Sequence[Message] | None = None,
    ) -> str:
        """A new conversation holding its first turn, written in one transaction; returns its
        id. A process killed (or a write failing) part-way leaves no trace of either."""
        cid = uuid.uuid4().hex[:12]
        now = time.time()
        row = _turn_row(messages, stop_reason, usage)
        with self._tx() as db:
            _insert_conversation(db, cid, title, model, system, now)
            _insert_turn(db, cid, row, now, context, None)
        return cid

    def append_turn(
        self,
        conversation_id: str,
        messages: Sequence[Message],
        *,
        stop_reason: str | None = None,
        usage: Usage | None = None,
        context: Sequence[Message] | None = None,
        title: str | None = None,
    ) -> int:
        """Persist one completed turn atomically; returns its index. ``context`` replaces the
        working history (after compaction); ``title`` is set if the conversation has none."""
        now = time.time()
        row = _turn_row(messages, stop_reason, usage)
        with self._tx() as db:
            exists = db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,))
            if exists.fetchone() is None:
                raise ConversationNotFoundError(conversation_id)
            return _insert_turn(db, conversation_id, row, now, context, title)

    def delete(self, ref: str) -> str:
        """Delete a conversation (by id or unique id prefix); returns the full id."""
        cid = self.resolve(ref)
        with self._tx() as db:
            db.execute("DELETE FROM turns WHERE conversation_id = ?", (cid,))
            fts.remove(db, cid)
            db.execute("DELETE FROM conversations WHERE id = ?", (cid,))
        return cid

    # -- reading ---------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The full id for an id or a unique prefix of one."""
        if not ref.strip():  # "" is a prefix of every id: never let it pick (or delete) one
            raise ConversationNotFoundError(ref)
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM conversations WHERE id LIKE ? ESCAPE '\\' ORDER BY id",
                (ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
        ids = [r[0] for r in rows]
        if ref in ids:
            return ref
        if len(ids) != 1:
            raise ConversationNotFoundError(ref, ambiguous=ids)
        return str(ids[0])

    def latest(self) -> str | None:
        """The id of the most recently updated conversation, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM conversations ORDER BY updated DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row[0])

    def search(self, text: str, limit: int | None = None) -> list[ConversationInfo]:
        """Conversations with a turn holding every word of ``text`` (SQLite FTS5), best
        match first."""
        with self._lock:
            ids = fts.search_ids(self._db, text, limit)
            rows = [
                self._db.execute(_INFO_SQL + " WHERE c.id = ? GROUP BY c.id", (cid,)).fetchone()
                for cid in ids
            ]
        return [_info(r) for r in rows if r is not None]

    def list(self, limit: int | None = None) -> list[ConversationInfo]:
        """Conversations, most recently updated first."""
        sql = _INFO_SQL + " GROUP BY c.id ORDER BY c.updated DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with self._lock:
            return [_info(r) for r in self._db.execute(sql, params).fetchall()]

    def info(self, ref: str) -> ConversationInfo:
        cid = self.resolve(ref)
        with self._lock:
            row = self._db.execute(_INFO_SQL + " WHERE c.id = ? GROUP BY c.id", (cid,)).fetchone()
        return _info(row)

    def load(self, ref: str) -> StoredConversation:
        info = self.info(ref)
        with self._lock:
            rows = self._db.execute(
                "SELECT idx, created, messages, stop_reason, usage FROM turns"
                " WHERE conversation_id = ? ORDER BY idx",
                (info.id,),
            ).fetchall()
            ctx = self._db.execute(
                "SELECT context FROM conversations WHERE id = ?", (info.id,)
            ).fetchone()[0]
        turns = tuple(
            StoredTurn(
                int(idx),
                float(created),
                tuple(messages_from_data(json.loads(body))),
                stop,
                Usage(**json.loads(usage)) if usage else Usage(),
            )
            for idx, created, body, stop, usage in rows
        )
        context = tuple(loads(ctx)) if ctx is not None else None
        return StoredConversation(info, turns, context)

    def export(self, ref: str) -> JsonObject:
        """The whole conversation as a versioned JSON document (log, turns and context)."""
        conv = self.load(ref)
        info: JsonObject = {
            "id": conv.info.id,
            "title": conv.info.title,
            "model": conv.info.model,
            "created": conv.info.created,
            "updated": conv.info.updated,
        }
        turns: list[JsonValue] = [
            {
                "index": t.index,
                "created": t.created,
                "stop_reason": t.stop_reason,
                "usage": dict(asdict(t.usage)),
                "messages": messages_to_data(t.messages),
            }
            for t in conv.turns
        ]
        doc = to_document(conv.log, conversation=info, turns=turns)
        if conv.context is not None:
            doc["context"] = messages_to_data(conv.context)
        return doc

    def integrity_check(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def _turn_row(
    messages: Sequence[Message], stop_reason: str | None, usage: Usage | None
) -> tuple[str, str | None, str]:
    """(messages JSON, stop reason, usage JSON): serialised before the transaction opens."""
    body = json.dumps(messages_to_data(messages), ensure_ascii=False)
    return body, stop_reason, json.dumps(asdict(usage or Usage()))


def _insert_conversation(
    db: sqlite3.Connection,
    cid: str,
    title: str,
    model: str | None,
    system: str | None,
    now: float,
) -> None:
    db.execute(
        "INSERT INTO conversations (id, title, model, system, created, updated)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (cid, title, model, system, now, now),
    )


def _insert_turn(
    db: sqlite3.Connection,
    cid: str,
    row: tuple[str, str | None, str],
    now: float,
    context: Sequence[Message] | None,
    title: str | None,
) -> int:
    """Insert the next turn of ``cid`` inside the caller's transaction; returns its index."""
    found = db.execute(
        "SELECT COALESCE(MAX(idx) + 1, 0) FROM turns WHERE conversation_id = ?", (cid,)
    ).fetchone()
    idx = int(found[0])
    body, stop_reason, usage_json = row
    db.execute(
        "INSERT INTO turns (conversation_id, idx, created, messages, stop_reason, usage)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (cid, idx, now, body, stop_reason, usage_json),
    )
    fts.add(db, cid, idx, fts.turn_text(messages_from_data(json.loads(body))))
    db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, cid))
    if context is not None:
        db.execute("UPDATE conversations SET context = ? WHERE id = ?", (dumps(context), cid))
    if title:
        db.execute(
            "UPDATE conversations SET title = ? WHERE id = ? AND title = ''", (title[:200], cid)
        )
    return idx


_INFO_SQL = (
    "SELECT c.id, c.title, c.model, c.system, c.created, c.updated, COUNT(t.idx)"
    " FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.id"
)


def _info(row: tuple[object, ...]) -> ConversationInfo:
    cid, title, model, system, created, updated, turns = row
    return ConversationInfo(
        str(cid),
        str(title),
        None if model is None else str(model),
        None if system is None else str(system),
        float(created),  # type: ignore[arg-type]
        float(updated),  # type: ignore[arg-type]
        int(turns),  # type: ignore[call-overload]
    )


__all__ = [
    "ConversationInfo",
    "ConversationNotFoundError",
    "ConversationStore",
    "StoredConversation",
    "StoredTurn",
    "default_path",
]
