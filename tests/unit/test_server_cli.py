"""``hearth serve``: flags reach the server settings and uvicorn; loopback by default; keys are
never printed; graceful shutdown is on."""

from __future__ import annotations

import pytest
import uvicorn
from tests.support.cli import run_cli

import hearth.server
from hearth._secret import Secret
from hearth.backends.testing import FakeBackend
from hearth.server import ServerSettings, listen


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    seen: dict[str, object] = {}

    real_create_app = hearth.server.create_app

    def fake_create_app(settings: ServerSettings, **kwargs: object) -> object:
        seen["settings"] = settings
        return real_create_app(settings, backends={m: FakeBackend([]) for m in settings.models})

    def fake_serve(config: uvicorn.Config, draining: object) -> None:
        seen["config"] = config
        seen.update(vars(config))

    monkeypatch.setattr(hearth.server, "create_app", fake_create_app)
    monkeypatch.setattr(listen, "serve", fake_serve)
    return seen


def test_defaults_bind_loopback_with_graceful_shutdown(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(["serve", "-m", "local:smollm2"], capsys)
    assert code == 0
    settings = captured["settings"]
    assert isinstance(settings, ServerSettings)
    assert settings.models == ("local:smollm2",) and settings.api_key is None
    assert settings.cors_origins == ()
    assert captured["host"] == "127.0.0.1" and captured["port"] == 8080
    assert captured["access_log"] is False  # hearth's own log, which never shows query strings
    assert captured["timeout_graceful_shutdown"] == 600


def test_flags_reach_the_settings(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "-m", "a", "-m", "b", "--host", "0.0.0.0", "--port", "9001",
            "--max-queue", "3", "--parallel", "2", "--timeout", "30", "--api-key", "k-123",
            "--cors", "https://x.example", "--n-ctx", "1024", "--uds", "/tmp/h.sock"]  # fmt: skip
    code, out, err = run_cli(argv, capsys)
    assert code == 0
    settings = captured["settings"]
    assert isinstance(settings, ServerSettings)
    assert settings.models == ("a", "b")
    assert (settings.max_queue, settings.parallel, settings.timeout) == (3, 2, 30.0)
    assert settings.api_key == Secret("k-123")
    assert settings.cors_origins == ("https://x.example",)
    assert settings.backend_options == {"n_ctx": 1024}
    assert captured["uds"] == "/tmp/h.sock" and captured["port"] == 9001
    assert "k-123" not in out + err


def test_a_sub_second_timeout_still_drains_on_shutdown(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(["serve", "-m", "x", "--timeout", "0.5"], capsys)
    assert code == 0 and captured["timeout_graceful_shutdown"] == 1  # not 0: no wait at all


def test_the_key_can_come_from_the_environment(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTH_API_KEY", "from-env")
    run_cli(["serve", "-m", "x"], capsys)
    settings = captured["settings"]
    assert isinstance(settings, ServerSettings) and settings.api_key == Secret("from-env")


def test_bad_values_are_one_clear_line(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["serve", "-m", "x", "--parallel", "0"], capsys)
    assert code == 1 and err.startswith("error: parallel must be at least 1")


def test_local_engine_flags_do_not_reach_a_remote_model_served_beside_a_local_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    from hearth.backends.testing import FakeBackend
    from hearth.config.schema import Config
    from hearth.server import router

    seen: dict[str, dict[str, object]] = {}

    def fake_create(spec: str, **options: object) -> FakeBackend:
        seen[spec] = options
        return FakeBackend([])

    monkeypatch.setattr(router, "create_backend", fake_create)
    settings = ServerSettings(
        models=("local:smollm2", "openai:gpt-4o-mini"), backend_options={"n_ctx": 1024}
    )
    served = router.build_router(settings, Config(path=Path("/dev/null"))).served
    assert [s.id for s in served] == ["local:smollm2", "openai:gpt-4o-mini"]
    assert seen["local:smollm2"]["n_ctx"] == 1024
    assert "n_ctx" not in seen["openai:gpt-4o-mini"]


def test_by_default_only_loopback_host_names_are_answered_and_reads_have_deadlines(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(["serve", "-m", "x"], capsys)
    assert code == 0
    settings = captured["settings"]
    assert isinstance(settings, ServerSettings)
    assert settings.allowed_hosts == ("localhost", "127.0.0.1", "::1")
    assert settings.read_timeout == 30.0
    protocol = captured["http"]
    assert isinstance(protocol, type) and issubclass(protocol, listen.HeaderTimeoutProtocol)
    assert protocol.header_timeout == 30.0


@pytest.mark.parametrize(
    ("argv", "hosts"),
    [
        (["--host", "192.168.1.5"], ("localhost", "127.0.0.1", "::1", "192.168.1.5")),
        (["--host", "0.0.0.0"], ("localhost", "127.0.0.1", "::1")),
        (["--host", "0.0.0.0", "--api-key", "k"], ("*",)),  # the key is what protects it
        (["--host", "0.0.0.0", "--allow-host", "box.lan"], ("localhost", "127.0.0.1", "::1",
                                                             "box.lan")),
        (["--uds", "/tmp/h.sock"], ("*",)),  # no web page reaches a socket file
    ],
)  # fmt: skip
def test_the_host_allow_list_follows_the_bind_address_and_the_flags(
    captured: dict[str, object],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    hosts: tuple[str, ...],
) -> None:
    code, _, _ = run_cli(["serve", "-m", "x", *argv], capsys)
    assert code == 0
    settings = captured["settings"]
    assert isinstance(settings, ServerSettings) and settings.allowed_hosts == hosts


def test_a_wildcard_bind_without_key_says_which_hosts_it_answers(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["serve", "-m", "x", "--host", "0.0.0.0"], capsys)
    assert code == 0
    assert "requests are answered only when their Host header is one of localhost" in err
    assert "need --allow-host NAME" in err


def test_limit_and_timeout_flags_reach_the_settings(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["serve", "-m", "x", "--read-timeout", "5", "--max-messages", "100",
            "--max-message-bytes", "2000", "--max-text-bytes", "9000"]  # fmt: skip
    code, _, _ = run_cli(argv, capsys)
    assert code == 0
    settings = captured["settings"]
    assert isinstance(settings, ServerSettings)
    assert settings.read_timeout == 5.0 and captured["http"].header_timeout == 5.0  # type: ignore[attr-defined]
    limits = settings.input_limits()
    assert (limits.max_messages, limits.max_message_bytes, limits.max_text_bytes) == (
        100,
        2000,
        9000,
    )
