"""``hearth batch --ray``: the OpenAI Batch file over 200 small requests on Ray Data (two
actors, one engine each), on the one-machine Ray cluster of the test set-up: every custom_id is
answered exactly once, also when a run is killed and run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from tests.integration.test_batch_local import (
    COUNT,
    answered,
    check_results,
    hearth_cmd,
    request_line,
    stop_after,
)

pytestmark = pytest.mark.integration


def write_requests(path: Path) -> None:
    path.write_text("".join(json.dumps(request_line(i)) + "\n" for i in range(COUNT)), "utf-8")


def start(source: Path, out: Path, address: str) -> subprocess.Popen[str]:
    args = ["batch", str(source), "-o", str(out), "--ray", address, "--actors", "2", "-c", "4"]
    return subprocess.Popen(
        [*hearth_cmd(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_a_batch_on_ray_data_answers_every_request_once(tmp_path: Path, ray_cluster: str) -> None:
    from hearth.cluster.batch import RayBatchOptions, run_file_on_ray

    source, out = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    write_requests(source)
    seen = []
    progress = run_file_on_ray(
        source, out, RayBatchOptions(ray_cluster, actors=2, slots=4), report=seen.append
    )
    assert (progress.done, progress.failed, progress.skipped) == (COUNT, 0, 0)
    assert progress.tokens > 0 and progress.tokens_per_second > 0
    assert seen, "no progress was reported"
    check_results(out)
    again = run_file_on_ray(source, out, RayBatchOptions(ray_cluster, actors=2, slots=4))
    assert (again.done, again.skipped) == (0, COUNT)


def test_a_killed_ray_batch_loses_nothing_and_a_rerun_finishes_it(
    tmp_path: Path, ray_cluster: str
) -> None:
    source, out = tmp_path / "requests.jsonl", tmp_path / "results.jsonl"
    write_requests(source)
    first = start(source, out, ray_cluster)
    stop_after(first, out, 30, signal.SIGKILL)
    assert first.returncode == -signal.SIGKILL
    after_kill = answered(out)
    assert len(after_kill) == len(set(after_kill)) >= 30
    assert len(after_kill) < COUNT

    second = start(source, out, ray_cluster)
    _, stderr = second.communicate(timeout=600)
    assert second.returncode == 0, stderr
    assert f"{COUNT}/{COUNT} done" in stderr and "tok/s" in stderr
    assert f"{len(after_kill)} from an earlier run" in stderr
    check_results(out)
