"""Raw text completion on remote APIs, second pass: vLLM's name for the repeat penalty, the
matched stop string through ``hearth serve``'s ``/v1/completions`` (vLLM's ``stop_reason``), and
turning raw completion on for an OpenAI-compatible server reached as ``openai:`` (the
``raw_completion`` option, and ``raw_completion = true`` in a ``[providers.NAME]`` table)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

import hearth
from hearth.backends.base import Capabilities
from hearth.backends.endpoints import endpoint_from_config, resolve
from hearth.backends.remote import HttpOptions, RemoteBackend
from hearth.backends.testing import FakeBackend
from hearth.config import load_config
from hearth.config.render import config_json
from hearth.config.schema import Config
from hearth.errors import ConfigFileError, InvalidRequestError, UnsupportedFeatureError
from hearth.events import Done, TextDelta, Usage
from hearth.server import ServerSettings, create_app

COUNT = "1, 2, 3, 4,"


def completion(text: str, finish: str = "stop") -> dict[str, object]:
    return {"id": "cmpl-1", "object": "text_completion", "model": "m",
            "choices": [{"index": 0, "text": text, "finish_reason": finish}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 3}}  # fmt: skip


class Recorder:
    """An httpx MockTransport that records the requests and answers each with ``body``."""

    def __init__(self, body: object) -> None:
        self.calls: list[httpx.Request] = []
        self.body = body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return httpx.Response(200, json=self.body)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def sent(self) -> dict[str, object]:
        body = json.loads(self.calls[-1].content)
        assert isinstance(body, dict)
        return body


# -- vLLM calls it repetition_penalty ------------------------------------------------------------


def test_vllm_gets_the_repeat_penalty_under_its_own_name() -> None:
    raw = Recorder(completion(" 5"))
    m = hearth.model("vllm:m", http_client=raw.client())
    m.complete(COUNT, repeat_penalty=1.3, top_k=5, min_p=0.1)
    assert raw.calls[-1].url.path == "/v1/completions"
    sent = raw.sent()
    assert sent["repetition_penalty"] == 1.3 and "repeat_penalty" not in sent
    assert sent["top_k"] == 5 and sent["min_p"] == 0.1
    chat = Recorder({"choices": [{"index": 0, "message": {"content": "hi"}}]})
    hearth.model("vllm:m", http_client=chat.client()).chat("hi", repeat_penalty=1.3)
    assert chat.sent()["repetition_penalty"] == 1.3 and "repeat_penalty" not in chat.sent()


@pytest.mark.parametrize("spec", ["llama-server:m", "hearth:m"])
def test_llama_server_and_hearth_keep_repeat_penalty(spec: str) -> None:
    raw = Recorder(completion(" 5"))
    hearth.model(spec, http_client=raw.client()).complete(COUNT, repeat_penalty=1.3)
    assert raw.sent()["repeat_penalty"] == 1.3 and "repetition_penalty" not in raw.sent()


# -- hearth serve names the stop string ----------------------------------------------------------


def _served_stop_app(answers: int = 3) -> tuple[FakeBackend, TestClient]:
    script = [TextDelta(" 5, 6,"), TextDelta(" 7,"), Done("stop_sequence", Usage(8, 6), " 8")]
    fake = FakeBackend(
        [script] * answers,
        name="fake:base",
        capabilities=Capabilities(accelerator="cpu", raw_completion=True),
    )
    app = create_app(
        ServerSettings(models=("m",)),
        config=Config(path=Path("/dev/null")),
        backends={"m": fake},
    )
    return fake, TestClient(app)


def test_v1_completions_names_the_matched_stop_string_as_vllm_does() -> None:
    _, client = _served_stop_app()
    with client:
        body = {"model": "m", "prompt": COUNT, "max_tokens": 40, "stop": [" 8"]}
        plain = client.post("/v1/completions", json=body).json()
        streamed = client.post("/v1/completions", json={**body, "stream": True})
    (choice,) = plain["choices"]
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] == " 8"
    chunks = [
        json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")
    ]
    ends = [c["choices"][0] for c in chunks if c["choices"][0]["finish_reason"] is not None]
    assert ends == [
        {"index": 0, "text": "", "logprobs": None, "finish_reason": "stop", "stop_reason": " 8"}
    ]


@contextmanager
def _on_loopback(app: Starlette) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_a_hearth_client_of_hearth_serve_reports_the_stop_sequence() -> None:
    _, client = _served_stop_app()
    with _on_loopback(client.app) as url, hearth.model("hearth:m", base_url=f"{url}/v1") as m:
        r = m.complete(COUNT, max_tokens=40, stop=[" 8"])
        with m.stream_complete(COUNT, max_tokens=40, stop=[" 8"]) as s:
            text = "".join(s.text_stream)
    assert r.text == text == " 5, 6, 7,"
    assert r.stop_reason == s.response.stop_reason == "stop_sequence"
    assert r.stop_sequence == s.response.stop_sequence == " 8"


def test_a_length_end_has_a_null_stop_reason() -> None:
    fake = FakeBackend(
        [[TextDelta(" 5"), Done("max_tokens", Usage(8, 1))]],
        capabilities=Capabilities(accelerator="cpu", raw_completion=True),
    )
    app = create_app(
        ServerSettings(models=("m",)), config=Config(path=Path("/dev/null")), backends={"m": fake}
    )
    with TestClient(app) as client:
        r = client.post("/v1/completions", json={"model": "m", "prompt": COUNT, "max_tokens": 1})
    (choice,) = r.json()["choices"]
    assert choice["finish_reason"] == "length" and choice["stop_reason"] is None


def test_chat_names_the_stop_string_both_ways_as_vllm_does() -> None:
    _, client = _served_stop_app(answers=4)
    chat = {"model": "m", "messages": [{"role": "user", "content": "count"}], "stop": [" 8"]}
    with client:
        plain = client.post("/v1/chat/completions", json=chat).json()
        streamed = client.post("/v1/chat/completions", json={**chat, "stream": True})
    assert plain["choices"][0]["finish_reason"] == "stop"
    assert plain["choices"][0]["stop_reason"] == " 8"
    chunks = [
        json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: {")
    ]
    ends = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert [(e["finish_reason"], e["stop_reason"]) for e in ends] == [("stop", " 8")]
    with _on_loopback(client.app) as url, hearth.model("vllm:m", base_url=f"{url}/v1") as m:
        r = m.chat("count", stop=[" 8"])
        with m.stream("count", stop=[" 8"]) as s:
            text = "".join(s.text_stream)
    assert r.text == text == " 5, 6, 7,"
    assert r.stop_reason == s.response.stop_reason == "stop_sequence"
    assert r.stop_sequence == s.response.stop_sequence == " 8"


def test_a_chat_stop_token_id_is_a_natural_end() -> None:
    from hearth.wire.openai.chat import response_from_wire

    body = {"id": "c", "model": "m", "usage": {"prompt_tokens": 1, "completion_tokens": 1},
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                         "finish_reason": "stop", "stop_reason": 128009}]}  # fmt: skip
    r = response_from_wire(body)
    assert r.stop_reason == "end_turn" and r.stop_sequence is None


# -- turning raw completion on for an openai: endpoint ------------------------------------------


def test_the_raw_completion_option_sends_an_openai_endpoint_to_completions() -> None:
    recorder = Recorder(completion(" 5, 6", "length"))
    m = hearth.model(
        "openai:my-base-model",
        base_url="http://127.0.0.1:8000/v1",
        raw_completion=True,
        http_client=recorder.client(),
    )
    assert m.capabilities().raw_completion
    assert m.complete(COUNT, max_tokens=2).text == " 5, 6"
    assert str(recorder.calls[0].url) == "http://127.0.0.1:8000/v1/completions"
    assert recorder.sent()["max_tokens"] == 2


def test_the_raw_completion_option_can_turn_it_off() -> None:
    recorder = Recorder(completion("never"))
    m = hearth.model(
        "openai:gpt-3.5-turbo-instruct",
        api_key="k",
        raw_completion=False,
        http_client=recorder.client(),
    )
    assert not m.capabilities().raw_completion
    with pytest.raises(UnsupportedFeatureError):
        m.complete(COUNT)
    assert recorder.calls == []


def test_the_raw_completion_option_is_refused_where_the_api_has_none() -> None:
    with pytest.raises(UnsupportedFeatureError, match="anthropic API has no raw text completion"):
        hearth.model("anthropic:claude-opus-4-1", api_key="k", raw_completion=True)
    with pytest.raises(InvalidRequestError, match="raw_completion must be True or False"):
        hearth.model("vllm:m", raw_completion="yes")


def _config(tmp_path: Path, table: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(table)
    return load_config(path, environ={})


def test_a_provider_table_turns_raw_completion_on(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        '[providers.box]\ntype = "openai"\nbase_url = "http://127.0.0.1:8000/v1"\n'
        "raw_completion = true\n",
    )
    provider = config.providers["box"]
    assert provider.raw_completion is True
    assert config_json(config)["providers"] == {
        "box": {"type": "openai", "base_url": "http://127.0.0.1:8000/v1", "raw_completion": True}
    }
    recorder = Recorder(completion(" 5"))
    endpoint = endpoint_from_config(provider)
    backend = RemoteBackend(
        resolve(endpoint, env={}), "any-model", http=HttpOptions(client=recorder.client())
    )
    assert backend.capabilities().raw_completion
    assert hearth.Model(backend).complete(COUNT).text == " 5"
    assert str(recorder.calls[0].url) == "http://127.0.0.1:8000/v1/completions"


def test_a_provider_table_can_turn_it_off_for_every_model(tmp_path: Path) -> None:
    config = _config(tmp_path, '[providers.oa]\ntype = "openai"\nraw_completion = false\n')
    endpoint = endpoint_from_config(config.providers["oa"])
    assert not endpoint.capabilities("gpt-3.5-turbo-instruct").raw_completion
    default = endpoint_from_config(
        _config(tmp_path, '[providers.oa]\ntype = "openai"\n').providers["oa"]
    )
    assert default.capabilities("gpt-3.5-turbo-instruct").raw_completion


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[providers.c]\ntype = "anthropic"\nraw_completion = true\n',
            "providers.c.raw_completion: the anthropic API has no raw text completion",
        ),
        (
            '[providers.c]\ntype = "openai"\nraw_completion = "yes"\n',
            "providers.c.raw_completion must be true or false",
        ),
    ],
)
def test_a_bad_raw_completion_key_is_a_clear_config_error(
    tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(ConfigFileError, match=message):
        _config(tmp_path, table)
