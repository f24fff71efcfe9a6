"""``hearth run`` with a reasoning model: the thinking dimmed before the answer on a terminal,
on stderr when stdout is piped, hidden with ``--no-thinking``; ``--thinking-budget`` and
``-o thinking false`` reach the model."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from tests.support.cli import run_cli as run
from tests.unit import test_cli_chat

from hearth.backends import registry
from hearth.backends.testing import FakeBackend, Script
from hearth.cli.chat import print_stream
from hearth.client import Model
from hearth.events import Done, TextDelta, ThinkingDelta, Usage

THINK: Script = [
    ThinkingDelta("12 + 30"),
    ThinkingDelta(" is 42."),
    TextDelta("42"),
    Done("end_turn", Usage(5, 6, thinking_tokens=4)),
]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[FakeBackend]:
    monkeypatch.setitem(
        registry.BUILTIN_PROVIDERS, "fake", f"{test_cli_chat.__name__}:fake_factory"
    )
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    test_cli_chat.FAKES.clear()
    return test_cli_chat.FAKES


def test_piped_run_writes_the_thinking_to_stderr(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.append(FakeBackend([THINK]))
    code, out, err = run(["run", "-m", "fake:x", "--no-log", "12 + 30?"], capsys)
    assert (code, out) == (0, "42\n")
    assert "12 + 30 is 42.\n" in err


def test_no_thinking_hides_it(fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]) -> None:
    fake.append(FakeBackend([THINK]))
    code, out, err = run(["run", "-m", "fake:x", "--no-log", "--no-thinking", "hi"], capsys)
    assert (code, out) == (0, "42\n") and "is 42" not in err


def test_budget_and_switch_reach_the_model(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    backend = FakeBackend([THINK, THINK])
    fake.extend([backend, backend])
    run(["run", "-m", "fake:x", "--no-log", "--thinking-budget", "64", "hi"], capsys)
    run(["run", "-m", "fake:x", "--no-log", "-o", "thinking", "false", "hi"], capsys)
    assert backend.requests[0].settings.thinking_budget == 64
    assert backend.requests[1].settings.thinking is False


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_shows_the_thinking_dimmed_before_the_answer() -> None:
    out = _Terminal()
    with Model(FakeBackend([THINK])).stream("hi") as stream:
        response = print_stream(stream, out)
    assert out.getvalue() == "\x1b[2m12 + 30\x1b[0m\x1b[2m is 42.\x1b[0m\n\n42\n"
    assert response.thinking == "12 + 30 is 42." and response.text == "42"
