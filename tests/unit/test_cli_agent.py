"""``hearth agent``, ``hearth logs`` and ``hearth chat --continue`` over a scripted backend."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from tests.support.agent import answer, call, calls
from tests.support.cli import run_cli as run

from hearth.backends import registry
from hearth.backends.testing import FakeBackend
from hearth.store import ConversationStore

FAKES: list[FakeBackend] = []


def fake_factory(model: str, /, **options: object) -> FakeBackend:
    return FAKES.pop(0)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[FakeBackend]:
    monkeypatch.setitem(registry.BUILTIN_PROVIDERS, "fake", f"{__name__}:fake_factory")
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    FAKES.clear()
    return FAKES


def test_agent_streams_steps_with_fs_tools(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "notes.txt").write_text("the answer is 42\nsecond line\n")
    backend = FakeBackend(
        [
            calls(call("read_file", '{"path": "notes.txt"}'), text="Reading."),
            calls(call("read_file", '{"path": "../secret"}', id="2")),
            answer("The answer is 42."),
        ]
    )
    fake.append(backend)
    argv = ["agent", "what is the answer?", "--tools", "fs", "--root", str(root), "-m", "fake:x"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert out.splitlines() == [
        "Reading.",
        '→ read_file(path="notes.txt")',
        "  ← the answer is 42 (+13 characters)",
        '→ read_file(path="../secret")',
        "  ← error tool 'read_file' failed: PathOutsideRootError: '..' is not allowed in paths "
        "('../secret'); stay in the root",
        "The answer is 42.",
    ]
    assert "saved as" in err
    assert {t.name for t in backend.requests[0].tools} == {
        "read_file",
        "list_dir",
        "search_files",
        "write_file",
    }
    with ConversationStore() as store:
        (info,) = store.list()
        assert info.title == "what is the answer?" and info.turns == 1


def test_tool_lines_never_send_control_characters_to_the_terminal(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "colors.log").write_text("\x1b[2J\x1b[31mred\rover\n")
    fake.append(FakeBackend([calls(call("read_file", '{"path": "colors.log"}')), answer("done")]))
    argv = ["agent", "read it", "--tools", "fs", "--root", str(root), "-m", "fake:x"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "\x1b" not in out and "\r" not in out
    assert "  ← \\x1b[2J\\x1b[31mred (+6 characters)" in out.splitlines()


def test_agent_says_when_it_ran_out_of_rounds(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake.append(FakeBackend([calls(call("list_dir", id=str(i))) for i in range(2)]))
    argv = ["agent", "loop", "--tools", "fs", "--root", str(tmp_path), "-m", "fake:x"]
    code, _, err = run([*argv, "--max-rounds", "2", "--read-only", "--no-save"], capsys)
    assert code == 1  # the task is not done
    assert "stopped after 2 rounds" in err
    assert not (tmp_path / "home").exists()


def test_agent_whose_every_call_was_refused_exits_1(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake.append(
        FakeBackend(
            [
                calls(call("read_file", '{"path": "/Users/me/notes.txt"}', id="1")),
                calls(call("read_file", '{"path": "../notes.txt"}', id="2")),
                answer("Your notes say hello."),
            ]
        )
    )
    argv = ["agent", "read my notes", "--tools", "fs", "--root", str(tmp_path), "-m", "fake:x"]
    code, out, err = run([*argv, "--no-save"], capsys)
    assert code == 1
    assert "is an absolute path; paths are relative to the root directory" in out
    assert "Your notes say hello." in out
    assert "every tool call failed or was refused; the task is not done" in err


def test_agent_with_one_good_call_among_refused_ones_exits_0(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    fake.append(
        FakeBackend(
            [
                calls(call("read_file", '{"path": "/notes.txt"}', id="1")),
                calls(call("read_file", '{"path": "notes.txt"}', id="2")),
                answer("Your notes say hello."),
            ]
        )
    )
    argv = ["agent", "read my notes", "--tools", "fs", "--root", str(tmp_path), "-m", "fake:x"]
    code, _, err = run([*argv, "--no-save"], capsys)
    assert code == 0, err
    assert "task is not done" not in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["agent", "t", "--tools", "fs", "-m", "fake:x"], "error: --tools fs needs --root"),
        (["agent", "t", "--tools", "shell", "-m", "fake:x"], "error: unknown tool set 'shell'"),
        (["agent", "t", "--tools", "fs", "--root", "/nonexistent/dir"], "error: the tools' root"),
        (["logs", "show", "nope"], "error: no conversation 'nope'"),
        (["chat", "--continue", "-m", "fake:x"], "error: there is no saved conversation"),
    ],
)
def test_user_errors_are_one_line(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    fake.append(FakeBackend([]))
    code, out, err = run(argv, capsys)
    assert (code, out) == (1, "")
    assert err.startswith(needle), err
    assert err.count("\n") == 1


def test_logs_show_never_sends_control_characters_to_the_terminal(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    from hearth.messages import Message

    with ConversationStore() as store:
        cid = store.create(title="t\x1b]0;pwned\x07")
        store.append_turn(cid, [Message.user("show"), Message.assistant("a\x1b[31mb\r\nc\td")])
    code, out, _ = run(["logs", "show", cid], capsys)
    assert code == 0
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    assert "a\\x1b[31mb\\r" in out and "c\td" in out


def test_logs_list_show_rm(fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]) -> None:
    with ConversationStore() as store:
        from hearth.messages import Message

        cid = store.create(title="about cats", model="fake:x")
        store.append_turn(cid, [Message.user("cats?"), Message.assistant("they purr")])
    code, out, _ = run(["logs"], capsys)
    assert code == 0 and cid in out and "about cats" in out and "1 turns" in out
    code, out, _ = run(["logs", "list", "--json"], capsys)
    assert json.loads(out)["id"] == cid
    code, out, _ = run(["logs", "show", cid[:4]], capsys)
    assert "user:\n  cats?" in out and "assistant:\n  they purr" in out
    code, out, _ = run(["logs", "show", cid, "--json"], capsys)
    assert json.loads(out)["format"] == "hearth.conversation"
    code, out, _ = run(["logs", "rm", cid], capsys)
    assert (code, out) == (0, f"deleted {cid}\n")
    code, out, err = run(["logs"], capsys)
    assert out == "" and "no saved conversations" in err


def test_chat_saves_turns_and_continues(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.append(FakeBackend([answer("Hi Ann."), answer("Noted.")]))
    monkeypatch.setattr("sys.stdin", io.StringIO("I am Ann.\nremember 7\n"))
    code, _, _ = run(["chat", "-m", "fake:x", "--system", "S"], capsys)
    assert code == 0
    with ConversationStore() as store:
        (info,) = store.list()
        assert (info.turns, info.system) == (2, "S")

    backend = FakeBackend([answer("You are Ann.")])
    fake.append(backend)
    monkeypatch.setattr("sys.stdin", io.StringIO("who am I?\n"))
    code, out, err = run(["chat", "-m", "fake:x", "--continue"], capsys)
    assert code == 0 and out == "You are Ann.\n"
    assert f"continuing conversation {info.id} (2 turns)" in err
    sent = [m.text for m in backend.requests[0].messages]
    assert sent == ["S", "I am Ann.", "Hi Ann.", "remember 7", "Noted.", "who am I?"]

    fake.append(FakeBackend([answer("Yes.")]))
    monkeypatch.setattr("sys.stdin", io.StringIO("still there?\n"))
    code, _, _ = run(["chat", "-m", "fake:x", "--continue", info.id[:6]], capsys)
    assert code == 0
    with ConversationStore() as store:
        assert store.info(info.id).turns == 4
        assert len(store.list()) == 1


def test_chat_continue_with_no_save_adds_nothing(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hearth.messages import Message

    with ConversationStore() as store:
        cid = store.create(title="t")
        store.append_turn(cid, [Message.user("hi"), Message.assistant("hello")])
    backend = FakeBackend([answer("Sure.")])
    fake.append(backend)
    monkeypatch.setattr("sys.stdin", io.StringIO("one more\n"))
    assert run(["chat", "-m", "fake:x", "--continue", "--no-save"], capsys)[0] == 0
    assert [m.text for m in backend.requests[0].messages] == ["hi", "hello", "one more"]
    with ConversationStore() as store:
        assert store.info(cid).turns == 1


def test_chat_continuing_a_compacted_conversation_keeps_its_new_turns(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hearth.messages import Message

    with ConversationStore() as store:  # an agent run whose history was compacted
        cid = store.create(title="t")
        old = [Message.user("long ago"), Message.assistant("a long answer")]
        summary = [Message.user("[Summary] long ago"), Message.assistant("Understood.")]
        store.append_turn(cid, old, context=summary)
    fake.append(FakeBackend([answer("Noted.")]))
    monkeypatch.setattr("sys.stdin", io.StringIO("remember 7\n"))
    assert run(["chat", "-m", "fake:x", "--continue"], capsys)[0] == 0
    backend = FakeBackend([answer("7.")])
    fake.append(backend)
    monkeypatch.setattr("sys.stdin", io.StringIO("what number?\n"))
    assert run(["chat", "-m", "fake:x", "--continue"], capsys)[0] == 0
    sent = [m.text for m in backend.requests[0].messages]
    assert sent == ["[Summary] long ago", "Understood.", "remember 7", "Noted.", "what number?"]


SCHEMA = {
    "type": "object",
    "properties": {"lines": {"type": "integer"}},
    "required": ["lines"],
}


def test_agent_output_schema_prints_only_the_validated_json_on_stdout(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "notes.txt").write_text("one\ntwo\n")
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    backend = FakeBackend(
        [
            calls(call("read_file", '{"path": "notes.txt"}')),
            answer('{"lines": "two"}'),
            answer('{"lines": 2}'),
        ]
    )
    fake.append(backend)
    argv = ["agent", "count the lines", "--tools", "fs", "--root", str(root), "-m", "fake:x"]
    code, out, err = run([*argv, "--output-schema", str(schema), "--no-save"], capsys)
    assert code == 0, err
    assert json.loads(out) == {"lines": 2}
    assert out == '{\n  "lines": 2\n}\n'
    assert '→ read_file(path="notes.txt")' in err
    assert "[the answer did not match the schema, asking again:" in err
    assert all(r.response_format is not None for r in backend.requests)
    assert backend.requests[0].response_format.schema == SCHEMA  # type: ignore[union-attr]


def test_agent_output_schema_failure_is_one_error_line(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    fake.append(FakeBackend([answer("two lines")]))
    argv = ["agent", "count", "-m", "fake:x", "--output-schema", str(schema)]
    code, out, err = run([*argv, "--output-retries", "0", "--no-save"], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines()[-1].startswith("error: the answer is not valid JSON")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON schema object, not list"),
        ('{"type": "nonsense"}', "schema.json: "),
    ],
)
def test_agent_output_schema_file_errors_are_one_line(
    fake: list[FakeBackend],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
    needle: str,
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(content)
    fake.append(FakeBackend([]))
    code, out, err = run(["agent", "t", "-m", "fake:x", "--output-schema", str(schema)], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and needle in err, err
    assert err.count("\n") == 1
    missing = ["agent", "t", "-m", "fake:x", "--output-schema", str(tmp_path / "none.json")]
    code, _, err = run(missing, capsys)
    assert code == 1 and "cannot read --output-schema" in err
