"""Configuration is read once, at the edge, and handed down: the server serves the providers and
models of the config it is given, ``hearth.model()`` reads the file once, and neither the
registry nor the catalogue reads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

import hearth
import hearth.config
from hearth.backends.local.backend import LocalBackend
from hearth.backends.registry import create_backend, providers
from hearth.backends.remote import RemoteBackend
from hearth.catalog.entries import CatalogEntry, PathSource
from hearth.catalog.resolve import resolve_local
from hearth.catalog.store import ModelStore
from hearth.config import Config, ProviderConfig, Secret
from hearth.errors import ModelNotFoundError
from hearth.server import ServerSettings, create_app

MINE = ProviderConfig(
    name="mine", type="openai", base_url="http://127.0.0.1:9/given", api_key=Secret("sk-given")
)
ON_DISK = (
    '[providers.mine]\ntype = "openai"\nbase_url = "http://127.0.0.1:9/on-disk"\n'
    'api_key = "sk-on-disk"\n'
)


def _given(tmp_path: Path, **fields: Any) -> Config:
    return Config(path=tmp_path / "given.toml", **fields)


def _counting_loader(monkeypatch: pytest.MonkeyPatch) -> list[Config]:
    """Every config that ``hearth.config.load_config`` returns from now on."""
    loads: list[Config] = []
    real: Callable[..., Config] = hearth.config.load_config

    def counting(*args: object, **kwargs: object) -> Config:
        loads.append(real(*args, **kwargs))
        return loads[-1]

    monkeypatch.setattr(hearth.config, "load_config", counting)
    return loads


def _remote(app: Starlette, name: str) -> RemoteBackend:
    backend = app.state.hearth.router.get(name).backend
    assert isinstance(backend, RemoteBackend)
    return backend


def test_create_app_serves_the_providers_of_the_config_it_is_given(tmp_path: Path) -> None:
    # $HEARTH_CONFIG is /dev/null here: no config file names "mine"
    config = _given(tmp_path, providers={"mine": MINE})
    app = create_app(ServerSettings(models=("mine:served",)), config=config, load=False)
    assert _remote(app, "mine:served").base_url == "http://127.0.0.1:9/given"


def test_create_app_ignores_a_different_config_file_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_disk = tmp_path / "on-disk.toml"
    on_disk.write_text(ON_DISK, encoding="utf-8")
    monkeypatch.setenv("HEARTH_CONFIG", str(on_disk))
    loads = _counting_loader(monkeypatch)
    config = _given(tmp_path, providers={"mine": MINE})
    app = create_app(ServerSettings(models=("mine:served",)), config=config, load=False)
    assert _remote(app, "mine:served").base_url == "http://127.0.0.1:9/given"
    assert loads == []
    # without a config, create_app reads the file (once) and serves what it says
    app = create_app(ServerSettings(models=("mine:served",)), load=False)
    assert _remote(app, "mine:served").base_url == "http://127.0.0.1:9/on-disk"
    assert len(loads) == 1


def test_create_app_serves_the_local_models_of_the_config_it_is_given(tmp_path: Path) -> None:
    weights = tmp_path / "weights.gguf"
    weights.write_bytes(b"not really")
    config = _given(tmp_path, models=(CatalogEntry("ours", PathSource(weights)),))
    app = create_app(ServerSettings(models=("local:ours",)), config=config, load=False)
    backend = app.state.hearth.router.get("ours").backend
    assert isinstance(backend, LocalBackend) and backend.path == weights


def test_hearth_model_reads_the_config_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "weights.gguf"
    weights.write_bytes(b"not really")
    path = tmp_path / "config.toml"
    path.write_text(f'{ON_DISK}\n[[models]]\nname = "ours"\npath = "{weights}"\n', "utf-8")
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    loads = _counting_loader(monkeypatch)
    with hearth.model("openai:gpt-4o-mini", api_key="sk-test") as m:
        assert m.name == "openai:gpt-4o-mini"
    assert len(loads) == 1
    with hearth.model("mine:served") as m:
        assert isinstance(m.backend, RemoteBackend)
        assert m.backend.base_url == "http://127.0.0.1:9/on-disk"
    assert len(loads) == 2
    with hearth.model("local:ours") as m:
        assert isinstance(m.backend, LocalBackend) and m.backend.path == weights
    assert len(loads) == 3


def test_the_registry_and_the_catalogue_never_read_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> Config:
        raise AssertionError("the config file was read below the edge")

    monkeypatch.setattr(hearth.config, "load_config", refuse)
    config = _given(tmp_path, providers={"mine": MINE})
    assert "mine" in providers(config)
    assert create_backend("mine:served", config=config).name == "mine:served"
    with pytest.raises(ModelNotFoundError, match="unknown local model 'ours'"):
        resolve_local("ours", ModelStore(tmp_path / "store"))
