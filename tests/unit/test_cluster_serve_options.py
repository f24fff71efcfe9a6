"""How ``hearth serve --ray`` sizes its deployments (hearth.cluster.serve_app): --replicas,
each replica's slots and engine options, fixed or autoscaled replicas."""

from __future__ import annotations

import pytest

from hearth.cluster.serve_app import (
    RayOptions,
    _scaling,
    engine_options,
    engine_slots,
    parse_replicas,
)
from hearth.errors import InvalidRequestError
from hearth.server import ServerSettings


def test_replicas_are_a_number_or_a_range() -> None:
    assert parse_replicas("2") == (2, 2)
    assert parse_replicas("1:4") == (1, 4)
    for bad, says in (("two", "MIN:MAX"), ("0", "at least 1"), ("3:2", "fewer than")):
        with pytest.raises(InvalidRequestError, match=says):
            parse_replicas(bad)


def test_a_replica_runs_as_many_requests_as_its_engine_has_slots() -> None:
    local = ServerSettings(models=("local:smollm2",), backend_options={"slots": 3}, max_queue=5)
    assert engine_slots("local:smollm2", local) == 3
    options = engine_options("local:smollm2", local)
    assert options["slots"] == 3 and options["max_queue"] > 5 + 3  # never refuses first
    assert engine_slots("local:smollm2", ServerSettings(models=("m",))) == 8
    assert engine_slots("groq:llama", ServerSettings(models=("m",))) == 8
    assert engine_slots("local:smollm2", ServerSettings(models=("m",), parallel=2)) == 2
    assert "slots" not in engine_options("groq:llama", ServerSettings(models=("m",)))


def test_replicas_are_fixed_or_autoscaled_on_the_requests_each_holds() -> None:
    assert _scaling(RayOptions(2, 2), 4) == {"num_replicas": 2}
    scaled = _scaling(RayOptions(1, 4), 4)["autoscaling_config"]
    assert (scaled["min_replicas"], scaled["max_replicas"]) == (1, 4)
    assert scaled["target_ongoing_requests"] == 4
    config = pytest.importorskip("ray.serve.config")
    checked = config.AutoscalingConfig(**scaled)  # Ray Serve takes it as it is
    assert (checked.min_replicas, checked.max_replicas) == (1, 4)


def test_a_config_with_a_key_written_in_it_is_refused_before_anything_is_deployed() -> None:
    from pathlib import Path

    pytest.importorskip("ray")
    from hearth._secret import Secret
    from hearth.cluster.connection import check_portable
    from hearth.config.schema import Config, ProviderConfig
    from hearth.errors import ConfigurationError

    inline = ProviderConfig(name="gpu1", type="openai", api_key=Secret("sk-123"))
    config = Config(path=Path("hearth.toml"), providers={"gpu1": inline})
    with pytest.raises(ConfigurationError, match="api_key_env") as caught:
        check_portable(config)
    assert "sk-123" not in str(caught.value)
    from_env = ProviderConfig(name="gpu1", type="openai", api_key_env="GPU1_KEY")
    check_portable(Config(path=Path("hearth.toml"), providers={"gpu1": from_env}))
