"""``hearth serve --ray`` and ``hearth batch --ray``: the flags reach the cluster code, and bad
ones are one clear line (no cluster is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.cli import run_cli

import hearth.cluster.batch
import hearth.cluster.serve_app
from hearth.cluster.batch import RayBatchOptions
from hearth.cluster.serve_app import RayOptions
from hearth.server import ServerSettings


def test_serve_ray_hands_the_settings_and_replicas_to_ray_serve(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, object] = {}

    def fake_run(settings: ServerSettings, config: object, options: RayOptions, **kw: object):
        seen.update(settings=settings, options=options, **kw)

    monkeypatch.setattr(hearth.cluster.serve_app, "run", fake_run)
    argv = ["serve", "--ray", "-m", "local:smollm2", "--replicas", "1:3", "--port", "9011"]
    code, out, _ = run_cli([*argv, "--ray-address", "auto", "--n-threads", "2"], capsys)
    assert code == 0 and "1:3 replica(s)" in out
    assert seen["options"] == RayOptions(1, 3)
    assert (seen["port"], seen["address"], seen["host"]) == (9011, "auto", "127.0.0.1")
    settings = seen["settings"]
    assert isinstance(settings, ServerSettings)
    assert settings.models == ("local:smollm2",) and settings.backend_options["n_threads"] == 2


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--replicas", "3:1"], "error: replicas: the most (1) is fewer than the least (3)"),
        (["--replicas", "many"], "error: --replicas: expected a number or MIN:MAX"),
        (["--uds", "/tmp/h.sock"], "error: --uds: Ray Serve listens on TCP only"),
        (["--any-model"], "error: --any-model: on Ray each served model is a deployment"),
    ],
)
def test_bad_ray_flags_are_one_clear_line(
    flags: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(["serve", "--ray", "-m", "local:smollm2", *flags], capsys)
    assert code == 1 and err.startswith(says), err


def test_batch_ray_hands_the_file_and_the_actors_to_ray_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def fake_run(source: Path, output: Path, options: RayBatchOptions, **kw: object):
        seen.update(source=source, output=output, options=options, **kw)
        from hearth.batch.runner import Progress

        return Progress(total=3, done=3, tokens=12)

    monkeypatch.setattr(hearth.cluster.batch, "run_file_on_ray", fake_run)
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    argv = ["batch", str(source), "-o", str(out), "--ray", "10.0.0.1:6379", "--actors", "4"]
    code, _, err = run_cli([*argv, "--actor-cpus", "2", "-c", "6", "-m", "local:smollm2"], capsys)
    assert code == 0 and "batch: 3/3 done" in err
    assert seen["options"] == RayBatchOptions("10.0.0.1:6379", actors=4, actor_cpus=2, slots=6)
    assert (seen["source"], seen["output"], seen["model"]) == (source, out, "local:smollm2")


def test_an_unreachable_cluster_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("ray")
    source = tmp_path / "in.jsonl"
    body = '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}'
    line = f'{{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {body}}}'
    source.write_text(line + "\n", encoding="utf-8")
    argv = ["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--ray", "127.0.0.1:1"]
    code, _, err = run_cli(argv, capsys)
    assert code == 1 and "cannot reach the Ray cluster at '127.0.0.1:1'" in err
    assert "ray start --head" in err
