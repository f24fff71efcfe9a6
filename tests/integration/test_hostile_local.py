"""Hostile input against the real SmolLM2: a GGUF whose chat template loops without end, and
requests built to freeze the server. Each costs bounded time; the process stays responsive and
stoppable."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.served import served

from hearth.catalog.entries import find_entry
from hearth.catalog.gguf_file import read_gguf
from hearth.catalog.store import ModelStore
from hearth.server import ServerSettings

pytestmark = pytest.mark.integration

ENDLESS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
# "of 5 s", or "of 20,000,000 steps" on a machine fast enough to take them within 5 s
BUDGET_ERROR = "chat template error: the template did not finish within its budget of "


@pytest.fixture(scope="module")
def looping_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2 with its chat template replaced, in place and at the same length, by one that
    loops 10^10 times (a crafted file anyone could hand out)."""
    source = ModelStore().path_for(find_entry("smollm2"))
    original = read_gguf(source).chat_template
    assert original is not None
    old = original.encode()
    filler = len(old) - len(ENDLESS) - len("{##}")
    new = (ENDLESS + "{#" + " " * filler + "#}").encode()
    data = source.read_bytes()
    assert len(new) == len(old) and data.count(old) == 1
    path = tmp_path_factory.mktemp("hostile") / "looping.gguf"
    path.write_bytes(data.replace(old, new))
    assert read_gguf(path).chat_template == new.decode()
    return path


def hearth_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("hearth")
    return [str(exe)] if exe.exists() else [shutil.which("hearth") or "hearth"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "HEARTH_DEBUG"}


def test_hearth_run_on_a_looping_template_fails_within_its_budget(looping_gguf: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [*hearth_cmd(), "run", "-m", str(looping_gguf), "hi"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        check=False,
    )
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"error: {BUDGET_ERROR}"), done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert took < 60, took


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def looping_server(looping_gguf: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``hearth serve`` on the looping model (one process: the SIGTERM test, last, ends it)."""
    port = _free_port()
    proc = subprocess.Popen(
        [*hearth_cmd(), "serve", "-m", str(looping_gguf), "--port", str(port),
         "--timeout", "60", "--n-threads", "2", "--log-level", "warning"],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _ready(url):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the model did not load"
            time.sleep(0.2)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


CHAT = {"model": "local", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def test_the_server_answers_a_looping_template_with_a_400_and_health_meanwhile(
    looping_server: tuple[subprocess.Popen[str], str],
) -> None:
    _, url = looping_server
    answer: list[httpx.Response] = []
    model = httpx.get(f"{url}/v1/models").json()["data"][0]["id"]
    worker = threading.Thread(
        target=lambda: answer.append(
            httpx.post(f"{url}/v1/chat/completions", json={**CHAT, "model": model}, timeout=60)
        )
    )
    worker.start()
    latencies = []
    while worker.is_alive():
        started = time.monotonic()
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.05)
    worker.join()
    (r,) = answer
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith(BUDGET_ERROR)
    # Never frozen: /health answered all along the render. (How fast, on a quiet machine, is
    # bench/hostile.py's to measure: the render shares the GIL with the event loop.)
    assert len(latencies) > 10 and max(latencies) < 1.0, latencies


def test_sigterm_stops_the_server_while_a_template_loops(
    looping_server: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = looping_server
    model = httpx.get(f"{url}/v1/models").json()["data"][0]["id"]
    threading.Thread(
        target=lambda: httpx.post(
            f"{url}/v1/chat/completions", json={**CHAT, "model": model}, timeout=60
        ),
        daemon=True,
    ).start()
    time.sleep(1.0)  # the template is rendering now
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code in (0, -signal.SIGTERM)
    assert time.monotonic() - started < 15  # the budget ends the render; the drain is 60 s
    assert "Traceback" not in stderr, stderr


@pytest.fixture(scope="module")
def smollm2_url() -> Iterator[str]:
    settings = ServerSettings(
        models=("local:smollm2",), timeout=120, backend_options={"n_threads": 2}
    )
    with served(settings) as url:
        yield url


def _post(url: str, body: object) -> httpx.Response:
    raw = json.dumps(body).encode()  # ensure_ascii: a lone surrogate travels as an escape
    return httpx.post(
        f"{url}/v1/chat/completions",
        content=raw,
        headers={"content-type": "application/json"},
        timeout=120,
    )


SMOL = (
    "what local:smollm2's context window of 8192 tokens could ever hold (its longest token is "
    "81 bytes)"
)


def test_a_hundred_thousand_messages_are_a_quick_400(smollm2_url: str) -> None:
    started = time.monotonic()
    r = _post(smollm2_url, {"model": "smollm2", "messages": [CHAT["messages"][0]] * 100_001})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        f"messages: 100001 messages is more than 8192, {SMOL}; send fewer"
    )
    assert time.monotonic() - started < 20  # 543 s before


def test_a_huge_message_is_refused_for_its_size(smollm2_url: str) -> None:
    huge = {"role": "user", "content": "y" * 7_500_000}
    r = _post(smollm2_url, {"model": "smollm2", "messages": [huge]})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        f"messages[0]: 7500000 bytes of text is more than 663552, {SMOL}; shorten it"
    )


def test_a_lone_surrogate_is_a_400_not_a_500(smollm2_url: str) -> None:
    bad = {"role": "user", "content": "a\ud800b"}
    r = _post(smollm2_url, {"model": "smollm2", "messages": [bad]})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith(
        "messages[0].content: not valid Unicode text: it holds a lone surrogate (U+D800)"
    )


def test_embeddings_on_the_chat_model_are_refused(smollm2_url: str) -> None:
    r = httpx.post(f"{smollm2_url}/v1/embeddings", json={"model": "smollm2", "input": "x"})
    assert r.status_code == 400
    assert "smollm2 is a chat model; /v1/embeddings needs an embedding model" in r.text
