"""The typed public API: OpenAI-style dict messages, Conversation's async twins, Model as a
(async) context manager, the typed ``hearth.model`` options and the py.typed marker."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import typing
from pathlib import Path

import pytest

import hearth
from hearth import (
    ImagePart,
    InvalidRequestError,
    Message,
    Model,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.backends.testing import FakeBackend
from hearth.events import Done, TextDelta, Usage
from hearth.model_options import ModelOptions

PNG = base64.b64encode(b"\x89PNG fake").decode()


def script(*pieces: str) -> list[object]:
    return [*(TextDelta(p) for p in pieces), Done("end_turn", Usage(3, len(pieces)))]


def _sent(messages: object) -> tuple[Message, ...]:
    fake = FakeBackend([script("ok")])
    Model(fake).chat(messages)  # type: ignore[arg-type]
    return fake.requests[0].messages


def test_openai_style_dicts_are_messages() -> None:
    sent = _sent(
        [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "add", "arguments": '{"a": 1, "b": 1}'}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "5"},
            {"role": "tool", "tool_call_id": "call_2", "content": "2"},
            Message.assistant("5 and 2."),
            {"role": "developer", "content": "Answer in French."},
        ]
    )  # fmt: skip
    assert sent == (
        Message.system("Be terse."),
        Message.user([TextPart("What is this?"), ImagePart(b"\x89PNG fake", "image/png")]),
        Message.assistant(
            [
                ToolCallPart("call_1", "add", '{"a": 2, "b": 3}'),
                ToolCallPart("call_2", "add", '{"a": 1, "b": 1}'),
            ]
        ),
        Message.tool(ToolResultPart("call_1", "5"), ToolResultPart("call_2", "2")),
        Message.assistant("5 and 2."),
        Message.system("Answer in French."),
    )
    assert _sent({"role": "user", "content": "Hi"}) == (Message.user("Hi"),)


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "add", "input": {"a": 1}}]},
            'messages[0].content[0] is an Anthropic tool_use block; hearth takes OpenAI-style '
            'dicts: write the call OpenAI\'s way: {"role": "assistant", "tool_calls"',
        ),
        (
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "5"}]},
            'is an Anthropic tool_result block; hearth takes OpenAI-style dicts: write the '
            'result as its own message: {"role": "tool", "tool_call_id"',
        ),
        (
            {"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]},
            'is an Anthropic image block; hearth takes OpenAI-style dicts: write {"type": '
            '"image_url"',
        ),
        (
            {"role": "user", "parts": [{"text": "Hi"}]},
            "messages[0] is a Gemini content (role/parts); write OpenAI-style dicts",
        ),
        (
            {"role": "model", "content": "Hi"},
            "is a Gemini content (role/parts)",
        ),
        ({"content": "Hi"}, "messages[0].role: required"),
        ({"role": "robot", "content": "Hi"}, "messages[0].role: unknown role 'robot'"),
        (
            {"role": "user", "content": [{"type": "video"}]},
            "messages[0].content[0].type: unknown content part type 'video'",
        ),
    ],
)  # fmt: skip
def test_other_apis_dicts_are_refused_with_what_to_write(message: object, needle: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        _sent([message])
    assert needle in str(info.value)


def test_a_message_that_is_neither_is_refused_by_position() -> None:
    with pytest.raises(InvalidRequestError, match=r"messages\[1\] is a int; give a hearth"):
        _sent([Message.user("Hi"), 3])


def test_conversation_takes_dicts_and_has_async_twins() -> None:
    fake = FakeBackend([script("one"), script("t", "wo"), script("three")])
    chat = hearth.Conversation(Model(fake), system="Be terse.")
    chat.send({"role": "user", "content": "1?"})

    async def go() -> tuple[str, list[str], str]:
        second = await chat.asend("2?")
        pieces: list[str] = []
        async with chat.astream({"role": "user", "content": "3?"}) as s:
            async for piece in s.text_stream:
                pieces.append(piece)
            third = await s.get_response()
        return second.text, pieces, third.text

    assert asyncio.run(go()) == ("two", ["three"], "three")
    assert [m.text for m in chat.messages] == ["Be terse.", "1?", "one", "2?", "two", "3?", "three"]
    assert fake.requests[2].messages[:-1] == tuple(chat.messages[:5])


def test_conversation_astream_left_early_adds_no_turn() -> None:
    chat = hearth.Conversation(Model(FakeBackend([script("a", "b")])))

    async def go() -> None:
        async with chat.astream("hi") as s:
            async for _ in s:
                break

    asyncio.run(go())
    assert chat.messages == []


class _Closing(FakeBackend):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_model_is_a_context_manager_sync_and_async() -> None:
    backend = _Closing([script("hi")])
    with Model(backend) as m:
        assert m.chat("x").text == "hi"
    assert backend.closed == 1

    async def go() -> str:
        async with Model(backend2) as m:
            return (await m.achat("x")).text

    backend2 = _Closing([script("yo")])
    assert asyncio.run(go()) == "yo" and backend2.closed == 1


def test_model_options_list_what_the_backends_take() -> None:
    from hearth.backends.local.backend import LocalOptions
    from hearth.backends.remote import REMOTE_OPTIONS

    local = {f.name for f in dataclasses.fields(LocalOptions)}
    assert set(ModelOptions.__annotations__) == local | set(REMOTE_OPTIONS)
    assert len(typing.get_overloads(hearth.model)) == 2  # typed options, and **dict


def test_an_unknown_option_is_still_refused_at_run_time() -> None:
    with pytest.raises(InvalidRequestError, match="unknown option for a local model"):
        hearth.model("local:smollm2", n_ctxx=512)


def test_the_package_is_marked_typed_and_the_wheel_ships_the_marker(tmp_path: Path) -> None:
    root = Path(hearth.__file__).parent
    assert (root / "py.typed").is_file()
    import zipfile

    from hatchling.builders.wheel import WheelBuilder

    (wheel,) = WheelBuilder(str(root.parent.parent)).build(
        directory=str(tmp_path), versions=["standard"]
    )
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert "hearth/py.typed" in names and "hearth/model_options.py" in names
