"""``n`` answers to one request: the accumulator keeps each answer apart, ``hearth serve``
sends OpenAI's ``choices[i]`` (streamed with the right index) from a FakeBackend script, and
backends that give one answer refuse more, before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from tests.unit.test_server_live import live

import hearth
from hearth.backends.base import Capabilities
from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.errors import UnsupportedFeatureError
from hearth.events import Done, TextDelta, Usage
from hearth.server import ServerSettings, create_app

ENDS = (
    Done("end_turn", Usage(5, 2)),
    Done("max_tokens", Usage(5, 3)),
    Done("end_turn", Usage(5, 1)),
)
THREE: Script = [
    TextDelta("Red"),
    TextDelta("Blue", choice=1),
    TextDelta(" sky", choice=1),
    TextDelta("!"),
    TextDelta("Green", choice=2),
    TextDelta(" sea", choice=1),
    Done("end_turn", Usage(5, 6), choices=ENDS),
]
USER = [{"role": "user", "content": "Name a colour."}]


def test_the_accumulator_keeps_each_answer_apart() -> None:
    r = hearth.accumulate(THREE)
    assert r.text == "Red!" and r.usage == Usage(5, 6)
    assert [c.text for c in r.choices] == ["Red!", "Blue sky sea", "Green"]
    assert [c.stop_reason for c in r.choices] == ["end_turn", "max_tokens", "end_turn"]
    assert [c.usage.output_tokens for c in r.choices] == [2, 3, 1]
    assert hearth.accumulate([TextDelta("x"), Done("end_turn")]).choices == ()


@pytest.fixture
def client() -> Iterator[tuple[openai.OpenAI, FakeBackend]]:
    fake = FakeBackend([THREE] * 4, capabilities=Capabilities(raw_completion=True, choices=3))
    app = create_app(
        ServerSettings(models=("fake",)), config=Config(path=Path("/dev/null")),
        backends={"fake": fake},
    )  # fmt: skip
    with live(app) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0), fake


def test_chat_choices_plain_and_streamed(client: tuple[openai.OpenAI, FakeBackend]) -> None:
    oai, fake = client
    r = oai.chat.completions.create(model="fake", messages=USER, n=3)  # type: ignore[arg-type]
    assert [(c.index, c.message.content, c.finish_reason) for c in r.choices] == [
        (0, "Red!", "stop"),
        (1, "Blue sky sea", "length"),
        (2, "Green", "stop"),
    ]
    assert r.usage is not None and r.usage.completion_tokens == 6
    assert fake.requests[0].settings.n == 3
    chunks = list(oai.chat.completions.create(model="fake", messages=USER, n=3, stream=True))  # type: ignore[call-overload]
    text = ["", "", ""]
    finish: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            text[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert text == ["Red!", "Blue sky sea", "Green"]
    assert finish == {0: "stop", 1: "length", 2: "stop"}


def test_completion_choices_plain_and_streamed(client: tuple[openai.OpenAI, FakeBackend]) -> None:
    oai, _ = client
    r = oai.completions.create(model="fake", prompt="Colours:", n=3, max_tokens=4)
    assert [(c.index, c.text) for c in r.choices] == [
        (0, "Red!"),
        (1, "Blue sky sea"),
        (2, "Green"),
    ]
    chunks = list(oai.completions.create(model="fake", prompt="Colours:", n=3, echo=True,
                                         stream=True))  # fmt: skip
    text = ["", "", ""]
    for chunk in chunks:
        for choice in chunk.choices:
            text[choice.index] += choice.text
    assert text == ["Colours:Red!", "Colours:Blue sky sea", "Colours:Green"]


def test_more_answers_than_the_backend_gives_is_a_400(
    client: tuple[openai.OpenAI, FakeBackend],
) -> None:
    oai, fake = client
    with pytest.raises(openai.BadRequestError, match="at most 3 answers"):
        oai.chat.completions.create(model="fake", messages=USER, n=4)  # type: ignore[arg-type]
    assert fake.requests == []


def test_a_remote_model_refuses_several_answers_before_sending() -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    m = hearth.model("openai:gpt-4o", api_key="k", http_client=httpx.Client(transport=transport))
    with pytest.raises(UnsupportedFeatureError, match="n=2"):
        m.chat("hi", n=2)
    assert sent == []


def test_gemini_candidate_count(client: tuple[openai.OpenAI, FakeBackend]) -> None:
    from google import genai
    from google.genai import types as gtypes

    oai, fake = client
    url = str(oai.base_url).removesuffix("/v1/")
    options = gtypes.HttpOptions(base_url=url, api_version="v1beta")
    gem = genai.Client(api_key="x", http_options=options)
    config = gtypes.GenerateContentConfig(candidate_count=3)
    r = gem.models.generate_content(model="fake", contents="Name a colour.", config=config)
    candidates = r.candidates or []
    assert [c.index for c in candidates] == [0, 1, 2]
    assert [c.content.parts[0].text for c in candidates] == ["Red!", "Blue sky sea", "Green"]  # type: ignore[union-attr,index]
    assert fake.requests[0].settings.n == 3
    chunks = list(gem.models.generate_content_stream(model="fake", contents="x", config=config))
    text = ["", "", ""]
    for chunk in chunks:
        for c in chunk.candidates or []:
            for p in (c.content.parts if c.content else None) or []:
                text[c.index or 0] += p.text or ""
    assert text == ["Red!", "Blue sky sea", "Green"]
