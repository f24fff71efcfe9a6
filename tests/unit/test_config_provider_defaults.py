"""[providers.NAME] tables set the endpoint's default sampling and, for OpenAI-compatible
servers, which field takes the token limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import hearth
from hearth.config import load_config
from hearth.errors import ConfigFileError
from hearth.settings import GenerationSettings

ANSWER = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(table)
    monkeypatch.setenv("HEARTH_CONFIG", str(config))


def sent_bodies(model: str, *settings: GenerationSettings | None) -> list[Any]:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=ANSWER)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    m = hearth.model(model, http_client=client)
    for each in settings:
        m.chat("hello", settings=each)
    return bodies


BOX = """
[providers.box]
type = "openai"
base_url = "http://127.0.0.1:9/v1"
max_tokens_field = "max_tokens"
sampling = { temperature = 0.3, max_tokens = 64, top_p = 0.9 }
"""


def test_provider_sampling_is_the_default_under_the_callers_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured(tmp_path, monkeypatch, BOX)
    plain, mine = sent_bodies("box:m", None, GenerationSettings(temperature=0.9))
    assert (plain["temperature"], plain["top_p"], plain["max_tokens"]) == (0.3, 0.9, 64)
    assert (mine["temperature"], mine["top_p"], mine["max_tokens"]) == (0.9, 0.9, 64)


def test_max_tokens_field_chooses_the_field_an_openai_compatible_server_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured(tmp_path, monkeypatch, BOX)
    [body] = sent_bodies("box:m", GenerationSettings(max_tokens=5))
    assert body["max_tokens"] == 5 and "max_completion_tokens" not in body
    configured(tmp_path, monkeypatch, BOX.replace('"max_tokens"', '"max_completion_tokens"', 1))
    [body] = sent_bodies("box:m", GenerationSettings(max_tokens=5))
    assert body["max_completion_tokens"] == 5 and "max_tokens" not in body


def test_config_show_renders_the_provider_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hearth.config.render import config_toml

    configured(tmp_path, monkeypatch, BOX)
    config = load_config()
    assert config.providers["box"].sampling == GenerationSettings(
        temperature=0.3, max_tokens=64, top_p=0.9
    )
    shown = config_toml(config)
    assert 'max_tokens_field = "max_tokens"' in shown
    assert "temperature = 0.3" in shown


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[providers.g]\ntype = "gemini"\nmax_tokens_field = "max_tokens"\n',
            "providers.g.max_tokens_field: the gemini API has one field of its own",
        ),
        (
            '[providers.b]\ntype = "openai"\nmax_tokens_field = "tokens"\n',
            "providers.b.max_tokens_field must be one of max_completion_tokens, max_tokens",
        ),
        (
            '[providers.b]\ntype = "openai"\nsampling = { temprature = 0.3 }\n',
            "providers.b.sampling",
        ),
        (
            '[providers.b]\ntype = "openai"\nsampling = { temperature = -1 }\n',
            "providers.b.sampling: temperature",
        ),
    ],
)
def test_bad_provider_defaults_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, message: str
) -> None:
    configured(tmp_path, monkeypatch, table)
    with pytest.raises(ConfigFileError, match=message.replace(".", r"\.")):
        load_config()
