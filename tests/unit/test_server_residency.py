"""Many models in one server: loaded on first request, the least recently used idle one unloaded
to make room, never one that is serving a request, keep_alive (Ollama's, per request, and the
server's), hearth ps / hearth stop, and the load metrics. The backends here are test doubles that
load and unload (and say how much memory they take) as a local model does."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx
import pytest
from tests.support.cli import run_cli
from tests.support.served import served

from hearth.backends.base import BackendBase, Capabilities
from hearth.config import ConfigFileError, load_config
from hearth.events import Done, StreamEvent, TextDelta, Usage
from hearth.memory_sizes import parse_memory
from hearth.request import ChatRequest
from hearth.server import ServerSettings
from hearth.wire.ollama.request_fields import UNSET, keep_alive_seconds

MIB = 2**20


class Swappable(BackendBase):
    """A model that takes ``memory`` bytes once loaded; answers "ok from NAME". While ``gate``
    is clear, its answers wait for it (a long request)."""

    def __init__(self, name: str, memory: int, log: list[tuple[str, str]]) -> None:
        self._name = name
        self.memory = memory
        self.log = log
        self.loaded = False
        self.gate = threading.Event()
        self.gate.set()

    @property
    def name(self) -> str:
        return self._name

    def capabilities(self) -> Capabilities:
        return Capabilities(context_length=512 if self.loaded else None)

    def load(self) -> None:
        if not self.loaded:
            self.loaded = True
            self.log.append(("load", self._name))

    def unload(self) -> None:
        self.loaded = False
        self.log.append(("unload", self._name))

    def memory_estimate(self) -> int:
        return self.memory

    def _events(self) -> list[StreamEvent]:
        assert self.loaded, f"{self._name} answered while unloaded"
        return [TextDelta(f"ok from {self._name}"), Done("end_turn", Usage(3, 2))]

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self.gate.wait()
        yield from self._events()

    async def _astream(self) -> AsyncIterator[StreamEvent]:
        self.log.append(("start", self._name))
        try:
            await anyio.to_thread.run_sync(self.gate.wait)
            for event in self._events():
                yield event
        finally:
            self.log.append(("end", self._name))

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._astream()


def _three(log: list[tuple[str, str]]) -> dict[str, Swappable]:
    return {name: Swappable(name, 100 * MIB, log) for name in ("a", "b", "c")}


def _ask(url: str, model: str, **body: object) -> httpx.Response:
    return httpx.post(
        f"{url}/api/generate",
        json={"model": model, "prompt": "hi", "stream": False, **body},
        timeout=30,
    )


def _ps(url: str) -> dict[str, dict[str, object]]:
    return {m["name"]: m for m in httpx.get(f"{url}/api/ps").json()["models"]}


def test_a_budget_for_two_serves_three_in_turn_unloading_the_least_recent() -> None:
    log: list[tuple[str, str]] = []
    models = _three(log)
    settings = ServerSettings(models=("a", "b", "c"), memory_budget=250 * MIB, timeout=30)
    with served(settings, backends=models) as url:
        assert set(_ps(url)) == {"a", "b"}  # what fits loads at start; c waits for a request
        ready = httpx.get(f"{url}/ready").json()
        assert ready["models"] == {"a": "ready", "b": "ready", "c": "unloaded"}
        for model in ("a", "b", "c", "a", "c", "b"):
            answer = _ask(url, model)
            assert answer.status_code == 200, answer.text
            assert answer.json()["response"] == f"ok from {model}"
        assert set(_ps(url)) == {"c", "b"}
        metrics = httpx.get(f"{url}/metrics").text
    unloads = [name for what, name in log if what == "unload"]
    assert unloads == ["a", "b", "a"]  # each time the one used longest ago, never the asked one
    assert 'hearth_model_loads_total{model="a"} 2.0' in metrics
    assert 'hearth_model_unloads_total{model="a",reason="make room"} 2.0' in metrics
    assert "hearth_model_load_seconds_count" in metrics


def test_a_model_serving_a_request_is_never_unloaded_under_it() -> None:
    log: list[tuple[str, str]] = []
    models = _three(log)
    settings = ServerSettings(models=("a", "b", "c"), max_loaded_models=1, timeout=30)
    with served(settings, backends=models) as url:
        models["a"].gate.clear()  # a's answer waits
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(_ask, url, "a")
            while ("start", "a") not in log:
                time.sleep(0.01)
            other = pool.submit(_ask, url, "b")  # needs a's place: waits for a to finish
            time.sleep(0.3)
            assert not other.done() and models["a"].loaded
            models["a"].gate.set()
            assert slow.result().status_code == 200
            assert other.result().json()["response"] == "ok from b"
    assert log.index(("end", "a")) < log.index(("unload", "a")) < log.index(("load", "b"))


def test_no_room_before_the_deadline_is_429() -> None:
    log: list[tuple[str, str]] = []
    models = _three(log)
    settings = ServerSettings(models=("a", "b", "c"), max_loaded_models=1, timeout=1)
    with served(settings, backends=models) as url:
        models["a"].gate.clear()
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(_ask, url, "a")
            while ("start", "a") not in log:
                time.sleep(0.01)
            refused = _ask(url, "b")
            models["a"].gate.set()
            slow.result()
    assert refused.status_code == 429, refused.text
    assert ("load", "b") not in log


def test_a_stop_while_a_request_runs_unloads_once_it_ends() -> None:
    log: list[tuple[str, str]] = []
    models = _three(log)
    settings = ServerSettings(models=("a", "b", "c"), timeout=30)  # keep_alive: for ever
    with served(settings, backends=models) as url:
        models["a"].gate.clear()
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(_ask, url, "a")
            while ("start", "a") not in log:
                time.sleep(0.01)
            stop = httpx.post(f"{url}/api/generate", json={"model": "a", "keep_alive": 0})
            assert stop.status_code == 200 and models["a"].loaded  # busy: not under its request
            models["a"].gate.set()
            assert slow.result().status_code == 200
        deadline = time.monotonic() + 5
        while models["a"].loaded and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not models["a"].loaded and "a" not in _ps(url)
    assert log.index(("end", "a")) < log.index(("unload", "a"))
    assert log.count(("unload", "a")) == 1


def test_keep_alive_per_request_and_per_server() -> None:
    log: list[tuple[str, str]] = []
    models = _three(log)
    settings = ServerSettings(models=("a", "b", "c"), keep_alive=60, timeout=30)
    with served(settings, backends=models) as url:
        assert _ask(url, "a", keep_alive=0).status_code == 200  # unloaded right after
        assert not models["a"].loaded
        assert _ask(url, "b", keep_alive="1s").status_code == 200
        assert _ask(url, "c").status_code == 200
        listed = _ps(url)
        assert str(listed["c"]["expires_at"]) < "9999"  # the server's 60 s
        deadline = time.monotonic() + 5
        while models["b"].loaded and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not models["b"].loaded and models["c"].loaded
        assert _ask(url, "c", keep_alive=-1).status_code == 200
        assert _ps(url)["c"]["expires_at"] == "9999-12-31T23:59:59Z"


def test_ollamas_load_and_unload_requests(capsys: pytest.CaptureFixture[str]) -> None:
    log: list[tuple[str, str]] = []
    models = _three(log)
    settings = ServerSettings(models=("a", "b", "c"), max_loaded_models=2, timeout=30)
    with served(settings, backends=models) as url:
        loaded = httpx.post(f"{url}/api/generate", json={"model": "c"}).json()
        assert loaded["done_reason"] == "load" and models["c"].loaded
        code, out, err = run_cli(["ps", "--url", url], capsys)
        rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
        assert code == 0 and set(rows) == {"b", "c"} and "Forever" in rows["c"]  # a: LRU
        code, _, err = run_cli(["stop", "c", "--url", url], capsys)
        assert code == 0 and "stopped c" in err
        assert not models["c"].loaded
        code, out, _ = run_cli(["ps", "--url", url, "--json"], capsys)
        assert code == 0 and '"c"' not in out


def test_ps_without_a_server_says_how_to_start_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["ps", "--url", "http://127.0.0.1:9"], capsys)
    assert code == 1
    assert "no server answered at http://127.0.0.1:9" in err and "hearth serve" in err


def test_keep_alive_spellings() -> None:
    assert keep_alive_seconds("5m") == 300
    assert keep_alive_seconds("1h30m") == 5400
    assert keep_alive_seconds(0) == 0
    assert keep_alive_seconds("-1") is None
    assert keep_alive_seconds(-1) is None
    assert keep_alive_seconds(None) is UNSET


def test_memory_sizes() -> None:
    assert parse_memory("8GiB") == 8 * 2**30
    assert parse_memory("512M") == 512 * MIB
    assert parse_memory("1.5g") == int(1.5 * 2**30)
    assert parse_memory("4096") == 4096
    with pytest.raises(ValueError, match="expected a size such as 8GiB"):
        parse_memory("lots")


def test_serve_flags_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["serve", "--keep-alive", "soon", "--port", "0"], capsys)
    assert code == 1 and "--keep-alive: expected a duration such as 5m" in err
    code, _, err = run_cli(["serve", "--memory-budget", "big", "--port", "0"], capsys)
    assert code == 1 and "expected a size such as 8GiB" in err


def test_server_config_sets_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[server]\nmax_loaded_models = 2\nmemory_budget = "6GiB"\nkeep_alive = "5m"\n')
    monkeypatch.setenv("HEARTH_CONFIG", str(path))
    settings = ServerSettings.from_config(load_config(), ("a",))
    assert (settings.max_loaded_models, settings.memory_budget) == (2, 6 * 2**30)
    assert settings.keep_alive == 300
    forever = ServerSettings.from_config(load_config(), ("a",), keep_alive=-1.0)
    assert forever.keep_alive is None  # -1 on the command line: for ever, over the file's
    path.write_text('[server]\nkeep_alive = "soon"\n')
    with pytest.raises(ConfigFileError, match=r"server\.keep_alive must be a duration"):
        load_config()


def test_any_model_serves_catalogue_names_on_demand_never_paths() -> None:
    from hearth.config.schema import Config
    from hearth.errors import ModelNotFoundError
    from hearth.server import create_app

    log: list[tuple[str, str]] = []
    settings = ServerSettings(models=("a",), any_model=True)
    app = create_app(
        settings, config=Config(path=Path("/dev/null")), backends={"a": Swappable("a", 1, log)},
        load=False,
    )  # fmt: skip
    router = app.state.hearth.router
    made = router.get("gemma3-270m")
    assert made.id == "local:gemma3-270m" and not made.loaded
    assert made.admission.hold is not None  # loaded on its first request, within the limits
    assert router.get("gemma3-base") is made  # an alias of the same catalogue entry
    assert router.get("local:gemma3-270m") is made
    for refused in ("/etc/hosts.gguf", "nonesuch", "openai:gpt-4o"):
        with pytest.raises(ModelNotFoundError):
            router.get(refused)
    assert [s.id for s in router.served] == ["a", "local:gemma3-270m"]


def test_ps_shows_where_a_model_runs() -> None:
    from hearth.cli.ps import _processor

    gpu = {"size": 100, "size_vram": 100, "backend": "CUDA", "layers_offloaded": 31, "layers": 31}
    assert _processor(gpu) == "100% GPU (CUDA, 31/31 layers)"
    split = {"size": 100, "size_vram": 40, "backend": "Vulkan", "layers_offloaded": 12}
    assert _processor({**split, "layers": 31}) == "40% GPU/CPU (Vulkan, 12/31 layers)"
    assert _processor({"size": 100, "size_vram": 0, "backend": "CPU"}) == "CPU"
