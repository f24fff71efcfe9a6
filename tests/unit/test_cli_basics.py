"""The ``hearth`` app itself: --version, completion, plain metavars, coloured errors."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.cli import run_cli as run

from hearth import __version__
from hearth.cli.app import print_error
from hearth.cli.metavars import plain


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"], capsys) == (0, f"hearth {__version__}\n", "")


def test_completion_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert "--install-completion" in out and "--show-completion" in out
    # from bash, as a user types it: typer finds the shell among the command's parents
    hearth = Path(sys.executable).with_name("hearth")
    shown = subprocess.run(
        ["bash", "-c", f"'{hearth}' --show-completion; exit $?"],  # bash stays its parent
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0 and "_HEARTH_COMPLETE" in shown.stdout


def test_help_uses_plain_metavars(capsys: pytest.CaptureFixture[str]) -> None:
    _, usage, _ = run(["run", "--help"], capsys)
    for odd in ("<str>", "<int>", "<float>", "<bool>", "list["):
        assert odd not in usage
    for plain_name in ("TEXT", "INTEGER", "FLOAT", "PATH..."):
        assert plain_name in usage
    assert plain("<list[Path]>") == "PATH..." and plain("<int range>") == "INTEGER"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_error_prefix_is_red_on_a_terminal_and_plain_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    print_error("bad [thing]")
    assert tty.getvalue() == "\x1b[1;31merror:\x1b[0m bad [thing]\n"
    for no_color in (True, False):
        stream = _Tty() if no_color else io.StringIO()
        if no_color:
            monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setattr("sys.stderr", stream)
        print_error("bad [thing]")
        assert stream.getvalue() == "error: bad [thing]\n"
