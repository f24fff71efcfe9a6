"""``hearth chat``: /set, /system, /help, /bye, \"\"\" blocks, Ctrl-D, and --continue (the id
checked before any model loads; the conversation's own model used)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from tests.support.cli import run_cli as run
from tests.unit import test_cli_chat
from tests.unit.test_cli_chat import answer

from hearth.backends import registry
from hearth.backends.testing import FakeBackend


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[FakeBackend]:
    monkeypatch.setitem(
        registry.BUILTIN_PROVIDERS, "fake", f"{test_cli_chat.__name__}:fake_factory"
    )
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    test_cli_chat.FAKES.clear()
    return test_cli_chat.FAKES


def chat(
    argv: list[str], typed: str, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    mp.setattr("sys.stdin", io.StringIO(typed))
    return run(["chat", *argv], capsys)


def test_set_system_help_bye_and_a_multiline_message(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FakeBackend([answer("one"), answer("two")])
    fake.append(backend)
    typed = (
        "/help\n/set temperature 0.2\n/set stop END\n/set tempreature 1\n/set top_p 5\n"
        '/system Be brief.\n"""\nline one\n  line two\n"""\n"""single"""\n/bye\nnever\n'
    )
    code, out, err = chat(["-m", "fake:x"], typed, capsys, monkeypatch)
    assert (code, out) == (0, "one\ntwo\n")
    assert "/set PARAM VALUE" in err and "temperature, top_p" in err
    assert "error: unknown option 'tempreature'" in err
    assert "error: top_p must be in [0.0, 1.0], got 5.0" in err
    first, second = backend.requests
    assert [m.text for m in first.messages] == ["Be brief.", "line one\n  line two"]
    assert (first.settings.temperature, first.settings.stop, first.settings.top_p) == (
        0.2, ("END",), None,
    )  # fmt: skip
    assert [m.text for m in second.messages][-1] == "single"


def test_ctrl_d_ends_with_a_newline(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake.append(FakeBackend([]))
    monkeypatch.setattr("sys.stdin", Tty(""))
    code, out, _ = run(["chat", "-m", "fake:x", "--no-save"], capsys)
    assert (code, out) == (0, ">>> \n")


def test_continue_checks_the_id_before_loading_and_keeps_the_model(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.append(FakeBackend([answer("Paris")], name="fake:first"))
    assert chat(["-m", "fake:first"], "Capital of France?\n", capsys, monkeypatch)[0] == 0
    loaded: list[str | None] = []
    with monkeypatch.context() as mp:
        mp.setattr("hearth.cli.chat.open_model", lambda spec, _v: loaded.append(spec))
        code, out, err = chat(["--continue", "zzz"], "hi\n", capsys, mp)
    assert (code, out, loaded) == (1, "", [])
    assert err.startswith("error: no conversation 'zzz' in the store")
    assert "recent ones: " in err and "(Capital of France?)" in err
    again = FakeBackend([answer("Lyon")], name="fake:first")
    opened: list[str] = []
    real = test_cli_chat.fake_factory

    def factory(model: str, /, **options: object) -> FakeBackend:
        opened.append(model)
        return real(model, **options)

    monkeypatch.setattr(test_cli_chat, "fake_factory", factory)
    fake.append(again)
    code, out, err = chat(["--continue"], "And the second?\n", capsys, monkeypatch)
    assert (code, out, opened) == (0, "Lyon\n", ["first"])
    assert [m.text for m in again.requests[0].messages] == [
        "Capital of France?", "Paris", "And the second?",
    ]  # fmt: skip
