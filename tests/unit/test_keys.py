"""``hearth keys``: saved API keys (a 0600 file, or the OS keyring when usable), used after the
environment and before the config file's inline key."""

from __future__ import annotations

import io
import stat
import sys
import types
from pathlib import Path

import pytest
from tests.support.cli import run_cli as run

from hearth.backends.endpoints import ENDPOINTS, resolve
from hearth.config.schema import ProviderConfig
from hearth.keys import keys_path, stored_key


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_HOME", str(tmp_path / "home"))
    monkeypatch.setitem(sys.modules, "keyring", None)  # not installed: the file is used
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def keys(
    argv: list[str], stdin: str, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    mp.setattr("sys.stdin", io.StringIO(stdin))
    return run(["keys", *argv], capsys)


def test_set_list_rm_in_a_private_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = keys(["set", "openai"], "sk-test-0123456789abcd\n", capsys, monkeypatch)
    assert (code, out) == (0, "")
    assert err == f"saved the key for openai in {keys_path()}\n"
    assert stat.S_IMODE(keys_path().stat().st_mode) == 0o600
    assert keys(["list"], "", capsys, monkeypatch)[1] == "openai  sk-…abcd\n"
    assert stored_key("openai") == "sk-test-0123456789abcd"
    assert keys(["rm", "openai"], "", capsys, monkeypatch)[0] == 0
    assert stored_key("openai") is None
    code, _, err = keys(["rm", "openai"], "", capsys, monkeypatch)
    assert (code, err) == (1, "error: no saved key 'openai'; saved: none\n")
    code, _, err = keys(["set", "openai"], "\n", capsys, monkeypatch)
    assert (code, err) == (1, "error: the key is empty; paste it, or pipe it in\n")


def test_a_saved_key_comes_after_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    openai = ENDPOINTS["openai"]
    with pytest.raises(Exception, match="hearth keys set openai"):
        resolve(openai)
    keys(["set", "openai"], "sk-saved-0123456789\n", capsys, monkeypatch)
    saved = resolve(openai)
    assert saved.api_key is not None and saved.api_key.reveal() == "sk-saved-0123456789"
    assert saved.key_source == "hearth keys"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    from_env = resolve(openai)
    assert from_env.api_key is not None and from_env.api_key.reveal() == "sk-env"


def test_a_saved_key_comes_before_the_config_files_inline_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hearth._secret import Secret

    provider = ProviderConfig("groq", "openai", api_key_env="GROQ_KEY", api_key=Secret("inline"))
    monkeypatch.delenv("GROQ_KEY", raising=False)
    assert provider.resolve_api_key() == "inline"
    keys(["set", "groq"], "gsk-saved\n", capsys, monkeypatch)
    assert provider.resolve_api_key() == "gsk-saved"
    monkeypatch.setenv("GROQ_KEY", "gsk-env")
    assert provider.resolve_api_key() == "gsk-env"


def test_the_keyring_is_used_when_it_has_a_backend(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    saved: dict[tuple[str, str], str] = {}

    class Ring:
        priority = 5

    class Fail:
        priority = 0

    ring = types.ModuleType("keyring")
    ring.get_keyring = Ring  # type: ignore[attr-defined]
    ring.set_password = lambda s, n, v: saved.__setitem__((s, n), v)  # type: ignore[attr-defined]
    ring.get_password = lambda s, n: saved.get((s, n))  # type: ignore[attr-defined]
    ring.delete_password = lambda s, n: saved.pop((s, n))  # type: ignore[attr-defined]
    backends = types.ModuleType("keyring.backends")
    backends.fail = types.SimpleNamespace(Keyring=Fail)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", ring)
    monkeypatch.setitem(sys.modules, "keyring.backends", backends)
    code, _, err = keys(["set", "anthropic"], "sk-ant-0123456789xyz\n", capsys, monkeypatch)
    assert (code, err) == (0, "saved the key for anthropic in the system keyring\n")
    assert saved == {("hearth", "anthropic"): "sk-ant-0123456789xyz"}
    assert "sk-ant-0123456789xyz" not in keys_path().read_text()
    assert keys(["list"], "", capsys, monkeypatch)[1] == "anthropic  sk-…9xyz\n"
    keys(["rm", "anthropic"], "", capsys, monkeypatch)
    assert saved == {}
