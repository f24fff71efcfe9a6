"""The Python API over a scripted backend: chat, stream, cancel, conversation, registry."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import hearth
from hearth import Done, GenerationSettings, Model, TextDelta, Usage
from hearth.backends.registry import providers, split_model_string
from hearth.backends.testing import FakeBackend
from hearth.config import Config


def script(*pieces: str) -> list[object]:
    return [*(TextDelta(p) for p in pieces), Done("end_turn", Usage(3, len(pieces)))]


def test_chat_sends_settings_and_system() -> None:
    fake = FakeBackend([script("Par", "is")])
    m = Model(fake, GenerationSettings(temperature=0.2))
    r = m.chat("Capital of France?", system="terse", max_tokens=5, seed=1)
    assert r.text == "Paris"
    (req,) = fake.requests
    assert [msg.role for msg in req.messages] == ["system", "user"]
    assert req.settings == GenerationSettings(temperature=0.2, max_tokens=5, seed=1)


def test_stream_yields_text_then_response() -> None:
    m = Model(FakeBackend([script("a", "b", "c")]))
    with m.stream("x") as s:
        assert list(s.text_stream) == ["a", "b", "c"]
        assert s.response.text == "abc"
        assert s.response.usage.output_tokens == 3


def test_leaving_a_stream_early_closes_the_backend_stream() -> None:
    fake = FakeBackend([script("a", "b", "c")])
    with Model(fake).stream("x") as s:
        for _ in s.text_stream:
            break
    assert fake.closed_early == 1


def test_async_twins() -> None:
    async def go() -> tuple[str, list[str]]:
        m = Model(FakeBackend([script("x", "y"), script("z")]))
        r = await m.achat("hi")
        async with m.astream("hi") as s:
            pieces = [p async for p in s.text_stream]
            assert (await s.get_response()).text == "z"
        return r.text, pieces

    assert asyncio.run(go()) == ("xy", ["z"])


def test_conversation_keeps_history_and_resets() -> None:
    fake = FakeBackend([script("one"), script("two"), script("three")])
    conv = hearth.Conversation(Model(fake), system="sys")
    conv.send("first")
    with conv.stream("second") as s:
        assert s.response.text == "two"
    assert [m.role for m in conv.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert [m.text for m in fake.requests[1].messages] == ["sys", "first", "one", "second"]
    conv.reset()
    conv.send("again")
    assert [m.text for m in fake.requests[2].messages] == ["sys", "again"]


def test_conversation_drops_a_turn_left_unfinished() -> None:
    conv = hearth.Conversation(Model(FakeBackend([script("a", "b")])))
    with conv.stream("q") as s:
        next(iter(s.text_stream))
    assert conv.messages == []


def test_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(hearth.UnknownProviderError, match=r"unknown provider 'nope'.*local"):
        hearth.model("nope:thing")


def test_unknown_local_model_is_an_error_not_the_default() -> None:
    with pytest.raises(hearth.ModelNotFoundError, match="smollm2"):
        hearth.model("local:no-such-model")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local:smollm2", ("local", "smollm2")),
        ("smollm2", ("local", "smollm2")),
        ("./models/x.gguf", ("local", "./models/x.gguf")),
        ("local:/abs/x.gguf", ("local", "/abs/x.gguf")),
        ("openai:gpt-4o", ("openai", "gpt-4o")),
    ],
)
def test_model_strings(spec: str, expected: tuple[str, str]) -> None:
    assert split_model_string(spec) == expected


def test_local_is_a_provider() -> None:
    assert "local" in providers(Config(path=Path("/dev/null")))


def _weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


def _clock() -> str:
    """The time."""
    return "noon"


def test_conversation_sends_tools_and_tool_choice_every_turn() -> None:
    from hearth.events import ToolCallEvent
    from hearth.messages import ToolCallPart

    call = ToolCallEvent(ToolCallPart("c1", "_weather", '{"city": "Oslo"}'))
    fake = FakeBackend([[call, Done("tool_use", Usage(3, 1))], script("ok"), script("bye")])
    conv = hearth.Conversation(Model(fake), tools=[_weather, _clock], tool_choice="required")
    first = conv.send("weather in Oslo?")
    assert first.tool_calls[0].name == "_weather"
    assert conv.messages[-1].tool_calls  # the call joined the history
    conv.send(hearth.Message.tool(hearth.ToolResultPart("c1", "sunny")), tool_choice="none")
    with conv.stream("thanks", tools=[_clock], tool_choice="_clock") as s:
        assert s.response.text == "bye"
    sent = [([t.name for t in r.tools], r.tool_choice) for r in fake.requests]
    assert sent == [
        (["_weather", "_clock"], "required"),
        (["_weather", "_clock"], "none"),  # this turn's tool_choice, the conversation's tools
        (["_clock"], "_clock"),
    ]


def test_conversation_response_format_parses_every_answer_and_can_change_per_turn() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    fake = FakeBackend([script('{"n": 1}'), script('{"n": 2}'), script("[3]")])
    conv = hearth.Conversation(Model(fake), response_format=schema)
    assert conv.send("one").parsed == {"n": 1}
    with conv.stream("two") as s:
        assert s.response.parsed == {"n": 2}
    assert len(conv.messages) == 4  # the streamed turn joined the history
    list_of_ints = {"type": "array", "items": {"type": "integer"}}
    assert conv.send("three", response_format=list_of_ints).parsed == [3]
    formats = [r.response_format for r in fake.requests]
    assert [f.schema if f else None for f in formats] == [schema, schema, list_of_ints]
