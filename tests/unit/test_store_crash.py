"""A writer killed mid-turn (SIGKILL) loses at most that turn; the database stays intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hearth.store import ConversationStore

WRITER = r"""
import sys
from hearth.messages import Message
from hearth.store import ConversationStore

store = ConversationStore(sys.argv[1])
cid = store.create(title="crash")
print(cid, flush=True)
i = 0
while True:
    body = f"turn {i} " + "x" * 200_000  # big enough that a write takes a while
    store.append_turn(cid, [Message.user(f"q{i}"), Message.assistant(body)])
    print(i, flush=True)
    i += 1
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("delay", [0.0, 0.013, 0.031])
def test_a_killed_writer_loses_at_most_the_unfinished_turn(tmp_path: Path, delay: float) -> None:
    db = tmp_path / "c.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    cid = proc.stdout.readline().strip()
    committed = -1
    while committed < 5:
        line = proc.stdout.readline()
        assert line, "the writer died on its own"
        committed = int(line)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for line in proc.stdout.read().split():
        committed = max(committed, int(line))  # turns it reported before dying

    with ConversationStore(db) as store:
        assert store.integrity_check() == "ok"
        conv = store.load(cid)
        indexes = [t.index for t in conv.turns]
        assert indexes == list(range(len(indexes)))  # no gap, no torn row
        assert len(indexes) >= committed + 1  # every reported turn is there
        assert len(indexes) <= committed + 2  # at most the one in flight on top
        for t in conv.turns:
            q, a = t.messages
            assert q.text == f"q{t.index}"
            assert a.text == f"turn {t.index} " + "x" * 200_000
        store.append_turn(cid, [])  # and it is writable again
