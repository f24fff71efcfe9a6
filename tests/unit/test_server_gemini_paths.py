"""Gemini's methods answer under both API versions' paths: ``/v1beta/models/…`` and
``/v1/models/…`` (where newer google-genai SDKs post by default), checked with raw HTTP on both
and with the installed google-genai SDK on whatever path it uses by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes
from starlette.testclient import TestClient
from tests.unit.test_server_live import live

from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.events import Done, TextDelta, Usage
from hearth.server import ServerSettings, create_app

TEXT: Script = [TextDelta("Par"), TextDelta("is"), Done("end_turn", Usage(7, 2))]
CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "capital of France?"}]}]}


def app_with(*scripts: Script):  # type: ignore[no-untyped-def]
    return create_app(
        ServerSettings(models=("fake",)),
        config=Config(path=Path("/dev/null")),
        backends={"fake": FakeBackend(list(scripts))},
    )


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_generate_and_stream_on_both_versions_paths(version: str) -> None:
    with TestClient(app_with(TEXT, TEXT)) as c:
        whole = c.post(f"/{version}/models/fake:generateContent", json=CONTENTS)
        streamed = c.post(f"/{version}/models/fake:streamGenerateContent?alt=sse", json=CONTENTS)
        unknown = c.post(f"/{version}/models/gemini-9:generateContent", json=CONTENTS)
    assert whole.status_code == 200
    assert whole.json()["candidates"][0]["content"]["parts"] == [{"text": "Paris"}]
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert '"text":"Par"' in streamed.text and '"text":"is"' in streamed.text
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"


def test_v1_model_list_stays_openais() -> None:
    with TestClient(app_with()) as c:
        listed = c.get("/v1/models").json()
    assert listed["object"] == "list" and listed["data"][0]["id"] == "fake"


@pytest.fixture
def url() -> Iterator[str]:
    with live(app_with(TEXT, TEXT)) as base:
        yield base


def test_the_installed_sdk_works_with_its_default_api_version(url: str) -> None:
    client = genai.Client(api_key="x", http_options=gtypes.HttpOptions(base_url=url))
    r = client.models.generate_content(model="fake", contents="capital of France?")
    assert r.text == "Paris"
    chunks = client.models.generate_content_stream(model="fake", contents="capital?")
    assert "".join(c.text or "" for c in chunks) == "Paris"
    with pytest.raises(genai_errors.ClientError) as caught:
        client.models.generate_content(model="gemini-9", contents="hi")
    assert caught.value.code == 404
