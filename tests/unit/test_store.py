"""The SQLite conversation store: turns, listing, loading, continuing, deleting, exporting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.agent import answer, call, calls, fake_model

from hearth.agent import Agent
from hearth.events import Usage
from hearth.history import from_document
from hearth.messages import Message, ThinkingPart
from hearth.store import ConversationNotFoundError, ConversationStore, default_path
from hearth.tools import Tool


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    with ConversationStore(tmp_path / "c.db") as s:
        yield s  # type: ignore[misc]


def test_turns_are_appended_and_loaded(store: ConversationStore) -> None:
    cid = store.create(title="t", model="fake:x", system="S")
    store.append_turn(cid, [Message.user("a"), Message.assistant("b")], stop_reason="end_turn",
                      usage=Usage(3, 4))  # fmt: skip
    signed = Message.assistant((ThinkingPart("hm", signature="SIG"),))
    store.append_turn(cid, [Message.user("c"), signed])
    conv = store.load(cid)
    assert [t.index for t in conv.turns] == [0, 1]
    assert conv.turns[0].usage == Usage(3, 4)
    assert [m.text for m in conv.messages] == ["S", "a", "b", "c", ""]
    assert conv.messages[-1].parts[0] == ThinkingPart("hm", signature="SIG")
    assert conv.info.turns == 2 and conv.info.model == "fake:x"


def test_list_resolve_delete_and_export(store: ConversationStore) -> None:
    first = store.create(title="first")
    second = store.create(title="second")
    store.append_turn(first, [Message.user("hi")])
    assert [c.id for c in store.list()] == [first, second]
    assert store.latest() == first
    assert store.resolve(first[:6]) == first
    doc = store.export(first)
    assert doc["conversation"]["title"] == "first"  # type: ignore[index,call-overload]
    assert [m.text for m in from_document(json.loads(json.dumps(doc)))] == ["hi"]
    store.delete(first)
    assert [c.id for c in store.list()] == [second]
    with pytest.raises(ConversationNotFoundError, match="no conversation"):
        store.load(first)
    with pytest.raises(ConversationNotFoundError):
        store.append_turn(first, [Message.user("x")])


def test_an_ambiguous_prefix_is_refused(store: ConversationStore) -> None:
    ids = [store.create() for _ in range(40)]
    shared = next(i[:1] for i in ids if sum(j.startswith(i[:1]) for j in ids) > 1)
    with pytest.raises(ConversationNotFoundError, match="ambiguous"):
        store.resolve(shared)


def test_an_empty_id_never_picks_the_only_conversation(store: ConversationStore) -> None:
    only = store.create()
    for blank in ("", " "):
        with pytest.raises(ConversationNotFoundError, match="no conversation"):
            store.delete(blank)
    assert [c.id for c in store.list()] == [only]


def test_the_agent_persists_each_turn_and_continues(store: ConversationStore) -> None:
    model, _ = fake_model(calls(call("t")), answer("one"), answer("two"))
    tools = [Tool.from_schema("t", {"type": "object"})]
    agent = Agent(model, tools, system="S", store=store)
    agent.run("first question")
    cid = agent.conversation_id
    assert cid is not None
    assert store.info(cid).title == "first question"
    assert len(store.load(cid).turns[0].messages) == 4
    agent.run("second")
    model2, backend2 = fake_model(answer("three"))
    again = Agent(model2, tools, store=store, conversation_id=cid[:5])
    assert again.messages == agent.messages
    again.run("third")
    assert [m.text for m in backend2.requests[0].messages][-2:] == ["two", "third"]
    assert store.info(cid).turns == 3


def test_a_denied_turn_is_not_stored(store: ConversationStore) -> None:
    from hearth.agent import Deny, Hooks

    model, _ = fake_model()
    agent = Agent(model, store=store, hooks=Hooks(pre_turn=lambda m: Deny("no")))
    agent.run("blocked")
    assert store.list() == []


def test_continuing_needs_a_matching_system_prompt(store: ConversationStore) -> None:
    cid = store.create(system="S")
    model, _ = fake_model()
    from hearth.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="different system prompt"):
        Agent(model, store=store, conversation_id=cid, system="other")


def test_default_path_respects_hearth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    assert default_path() == tmp_path / "conversations.db"
    monkeypatch.delenv("HEARTH_HOME")
    assert default_path().name == "conversations.db"


def test_the_store_uses_wal(store: ConversationStore) -> None:
    import sqlite3

    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def _break_turn_writes(path: Path) -> None:
    """Make every turn insert fail from now on (as a full disk or a kill mid-write would)."""
    import sqlite3

    other = sqlite3.connect(path)
    other.execute(
        "CREATE TRIGGER no_turns BEFORE INSERT ON turns BEGIN SELECT RAISE(ABORT, 'disk gone'); END"
    )
    other.commit()
    other.close()


def test_the_agents_first_save_is_one_transaction(store: ConversationStore) -> None:
    _break_turn_writes(store.path)
    model, _ = fake_model(answer("one"))
    agent = Agent(model, system="S", store=store)
    with pytest.raises(Exception, match="disk gone"):
        agent.run("first question")
    assert store.list() == []  # no empty conversation left behind
    assert agent.conversation_id is None


def test_the_chat_clis_first_save_is_one_transaction(store: ConversationStore) -> None:
    from hearth.cli.chat import _Saver
    from hearth.conversation import Conversation

    model, _ = fake_model(answer("hello"))
    conv = Conversation(model, system="S")
    conv.send("hi")
    _break_turn_writes(store.path)
    saver = _Saver(store, None)
    with pytest.raises(Exception, match="disk gone"):
        saver.save(conv, 1)
    assert store.list() == []


def test_start_saves_a_conversation_with_its_first_turn(store: ConversationStore) -> None:
    cid = store.start([Message.user("a"), Message.assistant("b")], title="t", model="fake:x",
                      system="S", stop_reason="end_turn", usage=Usage(2, 1))  # fmt: skip
    conv = store.load(cid)
    assert conv.info.title == "t" and conv.info.turns == 1
    assert [m.text for m in conv.messages] == ["S", "a", "b"]
    assert conv.turns[0].stop_reason == "end_turn" and conv.turns[0].usage == Usage(2, 1)
    assert store.append_turn(cid, [Message.user("c")]) == 1


def test_search_finds_words_and_indexes_a_store_written_before_search(tmp_path: Path) -> None:
    import sqlite3

    from hearth.history import messages_to_data
    from hearth.store.sqlite import _SCHEMA

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)  # a schema-1 store, as hearth wrote it before turns_fts
    old.executescript(_SCHEMA + "PRAGMA user_version = 1;")
    turn = [Message.user("the secret is BANANA"), Message.assistant("ok")]
    body = json.dumps(messages_to_data(turn))
    old.execute("INSERT INTO conversations VALUES ('c1', 't', NULL, NULL, 1, 1, NULL)")
    old.execute("INSERT INTO turns VALUES ('c1', 0, 1, ?, NULL, NULL)", (body,))
    old.commit()
    old.close()
    with ConversationStore(path) as store:
        assert [i.id for i in store.search("banana")] == ["c1"]
        new = store.start([Message.user('AND: -weird "quotes"'), Message.assistant("x")])
        assert [i.id for i in store.search('"quotes" AND:')] == [new]
        assert store.search("banana cherry") == []
        store.delete("c1")
        assert store.search("banana") == []
