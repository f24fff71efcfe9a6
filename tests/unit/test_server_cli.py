"""``hearth serve``: flags reach the server settings and uvicorn; loopback by default; keys are
never printed; graceful shutdown is on; the port is bound before any model is built, and a
banner says where each client finds the server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import uvicorn
from tests.support.cli import run_cli

import hearth.cli.serve
import hearth.server
from hearth._secret import Secret
from hearth.backends.testing import FakeBackend
from hearth.server import ServerSettings, listen, running


class _Bound:
    """Stands for a bound socket."""

    def __init__(self, name: object) -> None:
        self.name = name

    def getsockname(self) -> object:
        return self.name

    def close(self) -> None:
        pass


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Records what would be bound and served: no socket is bound, no server runs."""
    seen: dict[str, object] = {}

    real_create_app = hearth.server.create_app

    def fake_create_app(settings: ServerSettings, **kwargs: object) -> object:
        seen["settings"] = settings
        app = real_create_app(settings, backends={m: FakeBackend([]) for m in settings.models})
        seen["built"] = app
        return app

    def fake_tcp(host: str, port: int) -> _Bound:
        seen.update(host=host, port=port)
        return _Bound((host, port))

    def fake_unix(path: str) -> _Bound:
        seen["uds"] = path
        return _Bound(path)

    def fake_serve(
        config: uvicorn.Config, draining: object, *, sockets: list[socket.socket] | None = None
    ) -> None:
        seen.update({k: v for k, v in vars(config).items() if k not in ("host", "port", "uds")})
        seen["app"] = config.app
        seen["config"] = config
        seen["sockets"] = sockets

    monkeypatch.setattr(hearth.server, "create_app", fake_create_app)
    monkeypatch.setattr(listen, "listen_tcp", fake_tcp)
    monkeypatch.setattr(listen, "listen_unix", fake_unix)
    monkeypatch.setattr(running, "serve", fake_serve)
    return seen


def _config(seen: dict[str, object]) -> uvicorn.Config:
    config = seen["config"]
    assert isinstance(config, uvicorn.Config)
    return config


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
    config = _config(captured)
    assert config.access_log is False  # hearth's own log, which never shows query strings
    assert config.timeout_graceful_shutdown == 600
    assert captured["app"] is captured["built"] and len(captured["sockets"]) == 1  # type: ignore[arg-type]


def test_flags_reach_the_settings(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sock = str(tmp_path / "h.sock")
    argv = ["serve", "-m", "a", "-m", "b", "--host", "0.0.0.0", "--port", "9001",
            "--max-queue", "3", "--parallel", "2", "--timeout", "30", "--api-key", "k-123",
            "--cors", "https://x.example", "--n-ctx", "1024", "--uds", sock]  # fmt: skip
    code, out, err = run_cli(argv, capsys)
    assert code == 0
    settings = captured["settings"]
    assert isinstance(settings, ServerSettings)
    assert settings.models == ("a", "b")
    assert (settings.max_queue, settings.parallel, settings.timeout) == (3, 2, 30.0)
    assert settings.api_key == Secret("k-123")
    assert settings.cors_origins == ("https://x.example",)
    assert settings.backend_options == {"n_ctx": 1024}
    assert captured["uds"] == sock and "port" not in captured  # a Unix socket instead
    assert "k-123" not in out + err


def test_a_sub_second_timeout_still_drains_on_shutdown(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(["serve", "-m", "x", "--timeout", "0.5"], capsys)
    assert code == 0 and _config(captured).timeout_graceful_shutdown == 1  # not 0: no wait


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


def test_the_draft_model_flag_drafts_for_the_one_served_model(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run_cli(["serve", "-m", "local:smollm2", "--draft-model", "smollm2"], capsys)
    settings = captured["settings"]
    assert code == 0 and isinstance(settings, ServerSettings)
    assert settings.backend_options == {"draft_model": "smollm2"}
    code, _, err = run_cli(["serve", "-m", "a", "-m", "b", "--draft-model", "smollm2"], capsys)
    assert code == 1 and err.startswith("error: --draft-model drafts for one served model")
    assert "[[models]]" in err


def test_local_engine_flags_do_not_reach_a_remote_model_served_beside_a_local_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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


# --- binding first, and the banner ---------------------------------------------------------


def test_the_banner_names_the_models_and_each_clients_base_url(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["serve", "-m", "local:smollm2", "-m", "fast", "--port", "9002"], capsys)
    assert code == 0
    assert out.splitlines() == [
        "hearth serve: local:smollm2, fast",
        "  chat page  http://127.0.0.1:9002/",
        "  OpenAI     base_url=http://127.0.0.1:9002/v1",
        "  Anthropic  base_url=http://127.0.0.1:9002",
        "  Gemini     base_url=http://127.0.0.1:9002 (api_version v1beta)",
        "  ready?     http://127.0.0.1:9002/ready (local models load in the background)",
        "Press Ctrl-C to stop.",
    ]


def test_no_webui_leaves_the_page_out(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["serve", "-m", "x", "--no-webui", "--api-key", "k"], capsys)
    settings = captured["settings"]
    assert code == 0 and isinstance(settings, ServerSettings) and settings.web_ui is False
    assert "chat page" not in out
    assert "clients must send the API key (Authorization: Bearer KEY)" in out


def test_the_store_flag_reaches_the_settings(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_cli(["serve", "-m", "x", "--store", str(tmp_path / "c.db")], capsys)
    settings = captured["settings"]
    assert isinstance(settings, ServerSettings) and settings.store_path == tmp_path / "c.db"


def test_every_interface_is_reached_through_loopback_in_the_banner(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, err = run_cli(["serve", "-m", "x", "--host", "0.0.0.0", "--port", "9003"], capsys)
    assert "  listening on every interface (0.0.0.0), port 9003" in out
    assert "  OpenAI     base_url=http://127.0.0.1:9003/v1" in out
    assert "without an API key" in err and "conversations" in err


def test_a_bad_log_level_is_one_clear_line(
    captured: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["serve", "-m", "x", "--log-level", "loud"], capsys)
    assert code == 1
    assert err == "error: --log-level must be one of debug, info, warning, error\n"
    assert "host" not in captured  # nothing was bound


@pytest.fixture
def building(monkeypatch: pytest.MonkeyPatch) -> list[ServerSettings]:
    """The apps built (none when the bind fails first); no server runs."""
    built: list[ServerSettings] = []

    def fake_create_app(settings: ServerSettings, **kwargs: object) -> str:
        built.append(settings)
        return "the-app"

    monkeypatch.setattr(hearth.server, "create_app", fake_create_app)
    monkeypatch.setattr(hearth.cli.serve, "_listen", lambda *args: None)
    return built


def test_a_busy_port_is_one_error_line_before_any_model_is_built(
    building: list[ServerSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        code, out, err = run_cli(["serve", "-m", "local:smollm2", "--port", str(port)], capsys)
    assert code == 1
    assert err == (
        f"error: port {port} is in use on 127.0.0.1 (by another process); "
        "pick another with --port\n"
    )
    assert out == "" and building == []


def test_an_address_that_is_not_this_machines_is_one_error_line(
    building: list[ServerSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["serve", "-m", "x", "--host", "192.0.2.1", "--port", "0"], capsys)
    assert code == 1 and building == []
    assert err.startswith("error: 192.0.2.1 is not an address of this machine; check --host")


def test_a_port_out_of_range_is_one_error_line(
    building: list[ServerSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["serve", "-m", "x", "--port", "70000"], capsys)
    assert (code, err) == (1, "error: --port must be 0-65535, got 70000\n")


def test_port_0_serves_on_a_free_port_that_the_banner_shows(
    building: list[ServerSettings], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(["serve", "-m", "x", "--port", "0"], capsys)
    assert code == 0 and len(building) == 1
    first = out.splitlines()[2]
    assert first.startswith("  OpenAI     base_url=http://127.0.0.1:") and first.endswith("/v1")
    assert not first.endswith(":0/v1")


def test_a_live_unix_socket_is_refused_and_a_stale_one_replaced(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    first = listen.listen_unix(path)
    with pytest.raises(listen.ListenError, match="is in use"):
        listen.listen_unix(path)
    first.close()  # the file stays: stale now
    second = listen.listen_unix(path)
    second.close()
    (tmp_path / "plain").write_text("x")
    with pytest.raises(listen.ListenError, match="exists and is not a socket"):
        listen.listen_unix(str(tmp_path / "plain"))


def test_the_command_itself_on_a_busy_port_exits_at_once_without_a_traceback() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", "from hearth.cli.app import main; main()",
             "serve", "-m", "local:smollm2", "--port", str(port)],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        f"error: port {port} is in use on 127.0.0.1 (by another process); "
        "pick another with --port\n"
    )
    assert done.stdout == ""
    assert time.monotonic() - started < 30  # no model was loaded first
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
    assert isinstance(protocol, type) and issubclass(protocol, running.HeaderTimeoutProtocol)
    assert protocol.header_timeout == 30.0
    # uvicorn's fast paths (dependencies of hearth where the platform has them)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert issubclass(protocol, HttpToolsProtocol)
    assert captured["loop"] == "uvloop"


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
