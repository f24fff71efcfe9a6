"""Log-probabilities through ``hearth serve``, read by the official openai and ollama clients,
with FakeBackend scripts behind it (so the values are exact): OpenAI chat and completions
(``echo`` included: a loglikelihood request), Ollama chat and generate, and Responses."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import ollama
import openai
import pytest
from tests.unit.test_server_live import live

from hearth.backends.base import Capabilities
from hearth.backends.testing import FakeBackend, Script
from hearth.config.schema import Config
from hearth.events import Done, TextDelta, Usage
from hearth.logprobs import TokenLogprob
from hearth.server import ServerSettings, create_app

USER = [{"role": "user", "content": "capital of France?"}]


def lp(token: str, logprob: float | None, *top: tuple[str, float]) -> TokenLogprob:
    alts = tuple(TokenLogprob(t, v, t.encode()) for t, v in top)
    return TokenLogprob(token, logprob, token.encode(), None, alts)


PAR = lp("Par", -0.5, ("Par", -0.5), ("Lon", -1.5))
IS = lp("is", -0.25, ("is", -0.25), ("ison", -2.0))
TEXT: Script = [
    TextDelta("Par", logprobs=(PAR,)),
    TextDelta("is", logprobs=(IS,)),
    Done("end_turn", Usage(7, 2)),
]
PROMPT = "One two"
PROMPT_LOGPROBS = (lp("One", None), lp(" two", -3.0, (" two", -3.0)))
ECHO: Script = [
    TextDelta(" three", logprobs=(lp(" three", -0.1, (" three", -0.1)),)),
    Done("max_tokens", Usage(2, 1), prompt_logprobs=PROMPT_LOGPROBS),
]


@pytest.fixture
def serve() -> Iterator[object]:
    stack: list[object] = []

    def start(*scripts: Script) -> tuple[str, FakeBackend]:
        fake = FakeBackend(list(scripts), capabilities=Capabilities(raw_completion=True))
        app = create_app(
            ServerSettings(models=("fake",)),
            config=Config(path=Path("/dev/null")),
            backends={"fake": fake},
        )
        ctx = live(app)
        stack.append(ctx)
        return ctx.__enter__(), fake

    yield start
    for ctx in stack:
        ctx.__exit__(None, None, None)  # type: ignore[attr-defined]


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)


def test_openai_chat_logprobs_plain_and_streamed(serve: object) -> None:
    url, fake = serve(TEXT, TEXT)  # type: ignore[operator]
    client = _client(url)
    r = client.chat.completions.create(
        model="fake",
        messages=USER,
        logprobs=True,
        top_logprobs=2,  # type: ignore[arg-type]
    )
    content = r.choices[0].logprobs.content  # type: ignore[union-attr]
    assert [(c.token, c.logprob, c.bytes) for c in content] == [  # type: ignore[union-attr]
        ("Par", -0.5, list(b"Par")),
        ("is", -0.25, list(b"is")),
    ]
    assert [t.token for t in content[0].top_logprobs] == ["Par", "Lon"]  # type: ignore[index]
    settings = fake.requests[0].settings
    assert (settings.logprobs, settings.top_logprobs) == (True, 2)
    chunks = list(
        client.chat.completions.create(
            model="fake",
            messages=USER,
            logprobs=True,
            stream=True,  # type: ignore[arg-type]
        )
    )
    streamed = [
        (c.choices[0].delta.content, [e.token for e in c.choices[0].logprobs.content or []])
        for c in chunks
        if c.choices and c.choices[0].logprobs is not None
    ]
    assert streamed == [("Par", ["Par"]), ("is", ["is"])]


def test_openai_chat_top_logprobs_needs_logprobs(serve: object) -> None:
    url, _ = serve()  # type: ignore[operator]
    with pytest.raises(openai.BadRequestError, match="top_logprobs: needs logprobs"):
        _client(url).chat.completions.create(model="fake", messages=USER, top_logprobs=2)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError, match="between 0 and 20"):
        _client(url).chat.completions.create(
            model="fake",
            messages=USER,
            logprobs=True,
            top_logprobs=21,  # type: ignore[arg-type]
        )


def test_completions_loglikelihood_request(serve: object) -> None:
    """What lm-evaluation-harness's local-completions sends to score a text: the prompt back,
    each of its tokens with a logprob (the first null) and nothing generated."""
    url, fake = serve(ECHO)  # type: ignore[operator]
    r = _client(url).completions.create(
        model="fake", prompt=PROMPT, echo=True, max_tokens=0, logprobs=1, temperature=0
    )
    choice = r.choices[0]
    assert choice.text == PROMPT
    assert choice.logprobs is not None
    assert choice.logprobs.tokens == ["One", " two"]
    assert choice.logprobs.token_logprobs == [None, -3.0]
    assert choice.logprobs.top_logprobs == [None, {" two": -3.0}]
    assert choice.logprobs.text_offset == [0, 3]
    settings = fake.requests[0].settings
    assert settings.prompt_logprobs and settings.max_tokens == 1 and settings.top_logprobs == 1


def test_completions_echo_with_a_continuation_plain_and_streamed(serve: object) -> None:
    url, _ = serve(ECHO, ECHO)  # type: ignore[operator]
    client = _client(url)
    r = client.completions.create(model="fake", prompt=PROMPT, echo=True, logprobs=0, max_tokens=1)
    assert r.choices[0].text == "One two three"
    logprobs = r.choices[0].logprobs
    assert logprobs is not None and logprobs.tokens == ["One", " two", " three"]
    assert logprobs.text_offset == [0, 3, 7]
    assert logprobs.top_logprobs == [None, {}, {}]  # logprobs=0: no alternatives
    chunks = list(
        client.completions.create(
            model="fake", prompt=PROMPT, echo=True, logprobs=1, max_tokens=1, stream=True
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "One two three"
    tokens = [t for c in chunks if c.choices and c.choices[0].logprobs for t in
              c.choices[0].logprobs.tokens or []]  # fmt: skip
    assert tokens == ["One", " two", " three"]


def test_completions_logprobs_without_echo(serve: object) -> None:
    url, fake = serve(ECHO)  # type: ignore[operator]
    r = _client(url).completions.create(model="fake", prompt=PROMPT, logprobs=1, max_tokens=1)
    assert r.choices[0].text == " three"
    assert r.choices[0].logprobs is not None
    assert r.choices[0].logprobs.token_logprobs == [-0.1]
    assert not fake.requests[0].settings.prompt_logprobs


def test_ollama_chat_and_generate_logprobs(serve: object) -> None:
    url, fake = serve(TEXT, TEXT, TEXT)  # type: ignore[operator]
    client = ollama.Client(host=url)
    r = client.chat(model="fake", messages=USER, logprobs=True, top_logprobs=2)
    assert [(e.token, e.logprob) for e in r.logprobs or []] == [("Par", -0.5), ("is", -0.25)]
    assert [t.token for t in (r.logprobs or [])[0].top_logprobs or []] == ["Par", "Lon"]
    assert fake.requests[0].settings.top_logprobs == 2
    parts = list(client.chat(model="fake", messages=USER, logprobs=True, stream=True))
    assert [e.token for p in parts for e in p.logprobs or []] == ["Par", "is"]
    g = client.generate(model="fake", prompt="capital of France?", logprobs=True)
    assert [e.token for e in g.logprobs or []] == ["Par", "is"]
    assert math.isclose(sum(e.logprob for e in g.logprobs or []), -0.75)


def test_responses_include_logprobs(serve: object) -> None:
    url, fake = serve(TEXT, TEXT)  # type: ignore[operator]
    client = _client(url)
    r = client.responses.create(
        model="fake", input="capital of France?", include=["message.output_text.logprobs"],
        top_logprobs=2,
    )  # fmt: skip
    part = r.output[0].content[0]  # type: ignore[union-attr]
    assert [e.token for e in part.logprobs] == ["Par", "is"]  # type: ignore[union-attr]
    assert [t.token for t in part.logprobs[0].top_logprobs] == ["Par", "Lon"]  # type: ignore[union-attr]
    assert fake.requests[0].settings.top_logprobs == 2
    events = list(
        client.responses.create(
            model="fake", input="hi", include=["message.output_text.logprobs"], stream=True
        )
    )
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert [[t.token for t in d.logprobs] for d in deltas] == [["Par"], ["is"]]  # type: ignore[union-attr]
    done = [e for e in events if e.type == "response.output_text.done"]
    assert [t.token for t in done[0].logprobs] == ["Par", "is"]  # type: ignore[union-attr]


def test_gemini_logprobs_result(serve: object) -> None:
    from google import genai
    from google.genai import types as gtypes

    url, fake = serve(TEXT)  # type: ignore[operator]
    options = gtypes.HttpOptions(base_url=url, api_version="v1beta")
    client = genai.Client(api_key="x", http_options=options)
    config = gtypes.GenerateContentConfig(response_logprobs=True, logprobs=2)
    r = client.models.generate_content(model="fake", contents="capital?", config=config)
    result = r.candidates[0].logprobs_result  # type: ignore[index]
    assert result is not None
    chosen = [(c.token, c.log_probability) for c in result.chosen_candidates or []]
    assert chosen == [("Par", -0.5), ("is", -0.25)]
    top = [c.token for c in (result.top_candidates or [])[0].candidates or []]
    assert top == ["Par", "Lon"]
    assert fake.requests[0].settings.top_logprobs == 2


def test_text_offsets_count_characters_split_between_tokens_once() -> None:
    from hearth.logprobs import TokenLogprob
    from hearth.wire.openai.logprobs import completion_logprobs_to_wire

    e_acute = "é".encode()  # two bytes, cut between two tokens
    entries = (
        TokenLogprob("<s>", None, b""),  # a control token: no width
        TokenLogprob("caf", -0.1, b"caf"),
        TokenLogprob("\ufffd", -0.2, e_acute[:1]),
        TokenLogprob("\ufffd", -0.3, e_acute[1:]),
        TokenLogprob("!", -0.4, b"!"),
    )
    wire = completion_logprobs_to_wire(entries, offset=2)
    assert wire["text_offset"] == [2, 2, 5, 5, 6]  # "café!" after 2 characters
