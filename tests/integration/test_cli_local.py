"""The installed ``hearth`` command on the real default model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def hearth_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("hearth")
    return [str(exe)] if exe.exists() else [shutil.which("hearth") or "hearth"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HEARTH_DEBUG"}
    return subprocess.run(
        [*hearth_cmd(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_run_answers_the_readme_question() -> None:
    done = run("run", "--temperature", "0", "What is the capital of France?")
    assert done.returncode == 0, done.stderr
    assert "Paris" in done.stdout
    assert done.stderr == ""  # llama.cpp's log is silent by default


def test_run_streams_before_it_finishes() -> None:
    proc = subprocess.Popen(
        [
            *hearth_cmd(),
            "run",
            "--seed",
            "1",
            "--max-tokens",
            "300",
            "Write a long story about a lighthouse keeper.",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = proc.stdout.read1(64)  # type: ignore[attr-defined]
    still_running = proc.poll() is None
    rest, _ = proc.communicate(timeout=300)
    assert first
    assert still_running, "the first text arrived only when the process ended"
    assert proc.returncode == 0
    assert len(first + rest) > len(first)


def test_run_json_and_verbose() -> None:
    done = run("run", "--json", "--seed", "4", "--max-tokens", "5", "Say hi")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["usage"]["output_tokens"] <= 5
    assert data["model"] == "local:smollm2"
    loud = run("run", "--verbose", "--max-tokens", "2", "Say hi")
    assert "llama" in loud.stderr.lower()


def test_chat_over_a_pipe() -> None:
    done = run(
        "chat",
        "--temperature",
        "0",
        "--max-tokens",
        "24",
        stdin="What is the capital of France?\n/reset\nSay hello.\n",
    )
    assert done.returncode == 0, done.stderr
    assert "Paris" in done.stdout
    assert "conversation reset" in done.stderr


def test_info_on_the_default_model() -> None:
    done = run("info", "smollm2", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["architecture"] == "llama"
    assert info["context_length"] == 8192


def test_a_missing_model_file_is_one_clear_line(tmp_path: Path) -> None:
    done = run("run", "-m", str(tmp_path / "missing.gguf"), "hi")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert "missing.gguf" in done.stderr
    assert "Traceback" not in done.stderr


def test_piped_stdin_joins_the_prompt() -> None:
    done = run(
        "run", "--no-log", "-t", "0", "Repeat the secret word",
        stdin="The secret word is BANANA.\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # The 135M model may misspell it ("BANNA"); "BAN" can only come from stdin.
    assert "BAN" in done.stdout.upper()


def test_continue_with_an_unknown_id_fails_before_loading_a_model() -> None:
    import time

    started = time.monotonic()
    done = run("chat", "--continue", "zzz-no-such-id", stdin="hi\n")
    assert done.returncode == 1
    assert done.stderr.startswith("error: no conversation 'zzz-no-such-id' in the store")
    assert time.monotonic() - started < 20  # no model load (that took 28 s)


def test_minilm_info_and_list_agree() -> None:
    info = json.loads(run("info", "minilm", "--json").stdout)
    (row,) = [r for r in json.loads(run("models", "--json").stdout) if r["name"] == "minilm"]
    assert (info["context_length"], info["trained_context_length"]) == (256, 512)
    assert info["path"] == row["path"] and info["path"].endswith(".gguf")
    assert info["file_size"] == row["size"]
    assert (info["kind"], info["license"]) == ("embedding", "apache-2.0")
