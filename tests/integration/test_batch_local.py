"""``hearth batch`` over 200 small requests on the real small models: every custom_id is
answered exactly once, also when a run is interrupted (Ctrl-C) or killed and run again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

COUNT = 200


def hearth_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("hearth")
    return [str(exe)] if exe.exists() else [shutil.which("hearth") or "hearth"]


def request_line(i: int) -> dict[str, object]:
    if i % 40 == 7:
        body: dict[str, object] = {"model": "local:minilm", "input": [f"sentence {i}"]}
        return {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/embeddings", "body": body}
    if i % 10 == 3:
        body = {"model": "local:smollm2", "prompt": f"{i} apples and", "max_tokens": 3}
        return {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/completions", "body": body}
    body = {
        "model": "local:smollm2",
        "messages": [{"role": "user", "content": f"Say the number {i}."}],
        "max_tokens": 3,
        "temperature": 0,
    }
    return {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions", "body": body}


def check_results(out: Path) -> None:
    """Every request answered exactly once, each with the answer its endpoint gives."""
    results = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    ids = [r["custom_id"] for r in results]
    assert sorted(ids) == sorted(f"req-{i}" for i in range(COUNT))  # each exactly once
    assert all(r["error"] is None and r["response"]["status_code"] == 200 for r in results)
    by_id = {r["custom_id"]: r["response"]["body"] for r in results}
    assert by_id["req-0"]["object"] == "chat.completion"
    assert by_id["req-0"]["usage"]["completion_tokens"] <= 3
    assert by_id["req-3"]["object"] == "text_completion"
    assert len(by_id["req-7"]["data"][0]["embedding"]) == 384


def answered(path: Path) -> list[str]:
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.endswith("}"):
            ids.append(json.loads(line)["custom_id"])
    return ids


def start(source: Path, out: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "HEARTH_DEBUG"}
    return subprocess.Popen(
        [*hearth_cmd(), "batch", str(source), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def stop_after(proc: subprocess.Popen[str], out: Path, lines: int, sig: signal.Signals) -> str:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len(out.read_bytes().splitlines()) >= lines:
            proc.send_signal(sig)
            break
        time.sleep(0.05)
    _, stderr = proc.communicate(timeout=120)
    return stderr


def test_every_request_is_answered_exactly_once_across_an_interrupt_and_a_kill(
    tmp_path: Path,
) -> None:
    source = tmp_path / "requests.jsonl"
    source.write_text("".join(json.dumps(request_line(i)) + "\n" for i in range(COUNT)), "utf-8")
    out = tmp_path / "results.jsonl"

    first = start(source, out)
    stderr = stop_after(first, out, 10, signal.SIGINT)
    assert first.returncode == 130, stderr
    assert "run the same command again" in stderr
    after_interrupt = answered(out)
    assert 10 <= len(after_interrupt) < COUNT

    second = start(source, out)
    stop_after(second, out, len(after_interrupt) + 20, signal.SIGKILL)
    assert second.returncode == -signal.SIGKILL
    after_kill = answered(out)
    assert len(after_kill) == len(set(after_kill)) >= len(after_interrupt) + 20

    third = start(source, out)
    _, stderr = third.communicate(timeout=600)
    assert third.returncode == 0, stderr
    assert f"{COUNT}/{COUNT} done" in stderr and "tok/s" in stderr

    check_results(out)

    again = start(source, out)
    _, stderr = again.communicate(timeout=120)
    assert again.returncode == 0 and f"{COUNT} from an earlier run" in stderr
    assert len(out.read_text("utf-8").splitlines()) == COUNT
