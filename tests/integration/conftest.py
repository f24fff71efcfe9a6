"""Fixtures that load the real small models once per session (pulled by `make models`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import hearth

THREADS = 2


@pytest.fixture(scope="session")
def smollm2() -> Iterator[hearth.Model]:
    with hearth.model("local:smollm2", n_threads=THREADS) as m:
        yield m


@pytest.fixture(scope="session")
def gemma() -> Iterator[hearth.Model]:
    with hearth.model("local:gemma3-270m", n_threads=THREADS) as m:
        yield m


@pytest.fixture(scope="session")
def smollm2_small_ctx() -> Iterator[hearth.Model]:
    with hearth.model("local:smollm2", n_threads=THREADS, n_ctx=128) as m:
        yield m


@pytest.fixture(scope="session")
def vision_projector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random projector for SmolLM2 (tests/support/vision_pair.py)."""
    from tests.support.vision_pair import write_projector

    return write_projector(tmp_path_factory.mktemp("vision") / "mmproj-test.gguf")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A one-machine Ray cluster for one test module of ``hearth.cluster`` (small CPU
    reservations: each engine replica or batch actor reserves one), shut down after it, so no
    cluster outlives the module; yields its address, for a second process to join."""
    import ray  # a dev dependency: missing, the tests fail rather than skip

    ray.init(num_cpus=4, include_dashboard=False, namespace="hearth", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
