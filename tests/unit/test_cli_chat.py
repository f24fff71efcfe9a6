"""``hearth run`` and ``hearth chat`` over a scripted backend."""

from __future__ import annotations

import io
import json

import pytest
from tests.support.cli import run_cli as run

from hearth import Done, TextDelta, Usage
from hearth.backends import registry
from hearth.backends.testing import FakeBackend
from hearth.cli.sampling import CLI_SETTINGS

FAKES: list[FakeBackend] = []


def fake_factory(model: str, /, **options: object) -> FakeBackend:
    return FAKES.pop(0)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> list[FakeBackend]:
    monkeypatch.setitem(registry.BUILTIN_PROVIDERS, "fake", f"{__name__}:fake_factory")
    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # piped, empty: nothing joins the prompt
    FAKES.clear()
    return FAKES


def answer(*pieces: str, reason: str = "end_turn") -> list[object]:
    return [*(TextDelta(p) for p in pieces), Done(reason, Usage(4, len(pieces)))]  # type: ignore[arg-type]


def test_run_streams_the_answer_with_flags(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    backend = FakeBackend([answer("Par", "is")])
    fake.append(backend)
    argv = ["run", "-m", "fake:x", "--system", "terse", "-t", "0", "-n", "9", "--seed", "3", "Q?"]
    code, out, _ = run(argv, capsys)
    assert (code, out) == (0, "Paris\n")
    (req,) = backend.requests
    assert [m.role for m in req.messages] == ["system", "user"]
    assert (req.settings.temperature, req.settings.max_tokens, req.settings.seed) == (0, 9, 3)


def test_run_offers_every_cli_setting_of_the_table(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    backend = FakeBackend([answer("ok")])
    fake.append(backend)
    flags = ["--top-p", "0.5", "--top-k", "3", "--min-p", "0.1", "--repeat-penalty", "1.2"]
    code, out, _ = run(["run", "-m", "fake:x", *flags, "Q?"], capsys)
    assert (code, out) == (0, "ok\n")
    s = backend.requests[0].settings
    assert (s.top_p, s.top_k, s.min_p, s.repeat_penalty, s.temperature) == (0.5, 3, 0.1, 1.2, None)
    for command in ("run", "chat", "agent"):
        _, usage, _ = run([command, "--help"], capsys)
        for setting in CLI_SETTINGS:
            assert setting.cli[0] in usage, (command, setting.name)


def test_run_json(fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]) -> None:
    fake.append(FakeBackend([answer("hi", reason="max_tokens")]))
    code, out, _ = run(["run", "-m", "fake:x", "--json", "Q?"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["text"] == "hi"
    assert data["stop_reason"] == "max_tokens"
    assert data["usage"]["output_tokens"] == 1


def test_run_reads_the_prompt_from_stdin(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FakeBackend([answer("ok")])
    fake.append(backend)
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    code, out, _ = run(["run", "-m", "fake:x", "-"], capsys)
    assert (code, out) == (0, "ok\n")
    assert backend.requests[0].messages[0].text == "from stdin\n"


def test_run_says_when_it_hit_the_token_limit(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str]
) -> None:
    fake.append(FakeBackend([answer("a", "b", reason="max_tokens")]))
    code, out, err = run(["run", "-m", "fake:x", "Q?"], capsys)
    assert (code, out) == (0, "ab\n")
    assert "token limit: 2 tokens" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "-m", "nope:x", "hi"], "error: unknown provider 'nope'"),
        (["run", "-m", "local:not-a-model", "hi"], "error: "),
        (["run", "-m", "fake:x", "-t", "-1", "hi"], "error: temperature must be in"),
        (["run", "-m", "fake:x", "   "], "error: the prompt is empty"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    fake.append(FakeBackend([answer("unused")]))
    code, out, err = run(argv, capsys)
    assert code == 1
    assert out == ""
    assert err.startswith(needle)
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["run", "--max-tokens", "many", "hi"], capsys)
    assert code == 2
    assert "Invalid value for '--max-tokens'" in err
    assert "Traceback" not in err


def test_chat_keeps_history_and_resets_from_piped_stdin(
    fake: list[FakeBackend], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = FakeBackend([answer("one"), answer("two"), answer("three")])
    fake.append(backend)
    lines = "first\nsecond\n/reset\n\n/bogus\nthird\n/exit\nnever sent\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code, out, err = run(["chat", "-m", "fake:x", "--system", "sys"], capsys)
    assert code == 0
    assert out == "one\ntwo\nthree\n"
    assert "conversation reset" in err
    assert "unknown command /bogus" in err
    assert [m.text for m in backend.requests[1].messages] == ["sys", "first", "one", "second"]
    assert [m.text for m in backend.requests[2].messages] == ["sys", "third"]


def test_verbose_with_a_remote_model_shows_its_http_requests(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """-v is llama.cpp's log for a local model; for a remote one it is not an unknown option
    but one log line per HTTP request."""
    from tests.support.loopback import LoopbackServer, Reply, sse_frames

    monkeypatch.delenv("HEARTH_DEBUG", raising=False)
    chunks = [
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": "hi"}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    with LoopbackServer() as server:
        server.push(Reply.stream(sse_frames(*chunks, done=True)))
        monkeypatch.setenv("HEARTH_BASE_URL", server.url)
        code, out, err = run(["run", "-v", "-m", "hearth:m", "Q?"], capsys)
    assert (code, out) == (0, "hi\n"), err
    assert "unknown option" not in err
    assert f'httpx: HTTP Request: POST {server.url}/chat/completions "HTTP/1.1 200 OK"' in err
