"""``hearth config show | path`` and the config's default model and aliases in the CLI."""

from __future__ import annotations

import io
import json
import sys
import tomllib
from pathlib import Path

import pytest
from tests.support.cli import run_cli as run

from hearth import Done, TextDelta, Usage
from hearth.backends import registry
from hearth.backends.testing import FakeBackend

SECRET = "sk-live-NEVER-PRINT-ME"
BUILT: list[str] = []


def fake_factory(model: str, /, **options: object) -> FakeBackend:
    BUILT.append(model)
    return FakeBackend([[TextDelta(model), Done("end_turn", Usage(1, 1))]], name=f"fake:{model}")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(registry.BUILTIN_PROVIDERS, "fake", f"{__name__}:fake_factory")
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    BUILT.clear()
    path = tmp_path / "config.toml"
    path.write_text(
        'default_model = "fake:from-file"\n'
        "[aliases]\n"
        'quick = "fake:aliased"\n'
        "[providers.claude]\n"
        'type = "anthropic"\n'
        f'api_key = "{SECRET}"\n'
        "[providers.groq]\n"
        'type = "openai"\n'
        'base_url = "https://api.groq.com/openai/v1"\n'
        'api_key_env = "GROQ_API_KEY"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    return path


def test_config_path(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["config", "path"], capsys) == (0, f"{config}\n", "")


def test_config_show_masks_keys(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["config", "show"], capsys)
    assert code == 0
    assert out.startswith(f"# hearth configuration from {config} (read)\n")
    assert SECRET not in out and 'api_key = "********"' in out
    assert 'api_key_env = "GROQ_API_KEY"  # not set' in out
    assert tomllib.loads(out)["aliases"] == {"quick": "fake:aliased"}
    code, out, _ = run(["config", "show", "--json"], capsys)
    data = json.loads(out)
    assert SECRET not in out
    assert data["providers"]["claude"] == {"type": "anthropic", "api_key": "********"}
    assert data["providers"]["groq"]["api_key_env_set"] is False
    assert data["server"]["port"] == 8080 and data["path"] == str(config)


def test_config_show_with_overrides(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEARTH_MODEL", "fake:env")
    monkeypatch.setenv("HEARTH_SERVER_PORT", "9999")
    code, out, _ = run(["config", "show", "--json"], capsys)
    data = json.loads(out)
    assert code == 0
    assert (data["default_model"], data["server"]["port"]) == ("fake:env", 9999)
    assert data["overrides"] == ["HEARTH_MODEL", "HEARTH_SERVER_PORT"]


def test_a_bad_config_is_one_error_line(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config.write_text('[server]\nhost = "x"\nport = "eighty"\n', encoding="utf-8")
    for argv in (["config", "show"], ["run", "hi"], ["models"]):
        code, out, err = run(argv, capsys)
        assert (code, out) == (1, ""), argv
        assert err == f"error: {config}:3: server.port must be an integer, got 'eighty'\n"


def test_run_uses_the_configured_default(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["run", "hi"], capsys)[:2] == (0, "from-file\n")


def test_model_flag_beats_environment_beats_file(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEARTH_MODEL", "fake:from-env")
    assert run(["run", "hi"], capsys)[1] == "from-env\n"
    assert run(["run", "-m", "fake:from-flag", "hi"], capsys)[1] == "from-flag\n"
    assert run(["run", "-m", "quick", "hi"], capsys)[1] == "aliased\n"
    assert BUILT == ["from-env", "from-flag", "aliased"]


def test_chat_uses_the_alias(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello\n"))
    code, out, _ = run(["chat", "-m", "quick"], capsys)
    assert (code, out) == (0, "aliased\n")
