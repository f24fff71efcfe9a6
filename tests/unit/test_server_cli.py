"""``hearth serve``: flags reach the server settings and uvicorn; loopback by default; keys are
never printed; graceful shutdown is on."""

from __future__ import annotations

import pytest
from tests.support.cli import run_cli

import hearth.server
from hearth._secret import Secret
from hearth.server import ServerSettings


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    seen: dict[str, object] = {}

    def fake_create_app(settings: ServerSettings, **kwargs: object) -> str:
        seen["settings"] = settings
        return "the-app"

    def fake_run(app: object, **kwargs: object) -> None:
        seen["app"] = app
        seen.update(kwargs)

    import uvicorn

    monkeypatch.setattr(hearth.server, "create_app", fake_create_app)
    monkeypatch.setattr(uvicorn, "run", fake_run)
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
