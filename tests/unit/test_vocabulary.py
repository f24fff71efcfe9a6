"""Messages, settings, requests: the checks a caller hits first."""

from __future__ import annotations

import inspect
import math

import pytest

import hearth
from hearth import (
    GenerationSettings,
    ImagePart,
    InvalidRequestError,
    Message,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest, ToolSpec, as_messages


def test_public_names_match_all() -> None:
    public = {
        name
        for name, value in vars(hearth).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    public |= set(hearth._LAZY)  # imported on first use (hearth.__getattr__)
    assert public == set(hearth.__all__) - {"__version__"}


def test_message_constructors_and_views() -> None:
    call = ToolCallPart("call_1", "add", '{"a": 1}')
    thinking = ThinkingPart("hmm", signature="sig")
    m = Message.assistant([thinking, TextPart("Hi "), TextPart("there"), call])
    assert m.text == "Hi there"
    assert m.thinking == "hmm"
    assert m.tool_calls == (call,)
    assert Message.user("x").parts == (TextPart("x"),)
    results = Message.tool(ToolResultPart("call_1", "2"), ToolResultPart("call_2", "3"))
    assert [r.call_id for r in results.tool_results] == ["call_1", "call_2"]


@pytest.mark.parametrize(
    ("role", "part", "needle"),
    [
        ("system", ImagePart(b"x", "image/png"), "system message cannot hold ImagePart"),
        ("user", ToolCallPart("1", "f"), "user message cannot hold ToolCallPart"),
        ("tool", TextPart("x"), "tool message cannot hold TextPart"),
        ("assistant", ToolResultPart("1", "x"), "assistant message cannot hold ToolResultPart"),
    ],
)
def test_message_refuses_parts_its_role_cannot_carry(role: str, part: object, needle: str) -> None:
    with pytest.raises(InvalidRequestError, match=needle):
        Message(role, (part,))  # type: ignore[arg-type]


def test_unknown_role_names_the_roles() -> None:
    with pytest.raises(InvalidRequestError, match=r"unknown message role 'robot'.*system, user"):
        Message("robot", (TextPart("x"),))  # type: ignore[arg-type]


def test_image_part_needs_image_media_type() -> None:
    with pytest.raises(InvalidRequestError, match="image/\\* type"):
        ImagePart(b"...", "text/plain")
    assert "3 bytes" in repr(ImagePart(b"abc", "image/png"))


def test_tool_call_arguments_parse_or_explain() -> None:
    assert ToolCallPart("1", "f", '{"x": [1, 2]}').parsed_arguments() == {"x": [1, 2]}
    assert ToolCallPart("1", "f", "").parsed_arguments() == {}
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        ToolCallPart("1", "f", "{oops").parsed_arguments()
    with pytest.raises(InvalidRequestError, match="not a JSON object"):
        ToolCallPart("1", "f", "[1]").parsed_arguments()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"temperature": -0.1}, "temperature must be in"),
        ({"temperature": math.nan}, "finite"),
        ({"top_p": 1.5}, "top_p must be in"),
        ({"min_p": -1.0}, "min_p"),
        ({"top_k": -1}, "top_k must be between"),
        ({"max_tokens": 0}, "max_tokens must be between 1"),
        ({"max_tokens": 10**9}, "max_tokens must be between"),
        ({"repeat_penalty": 0.0}, "repeat_penalty must be in \\(0"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": True}, "seed must be an integer"),
        ({"temperature": "hot"}, "temperature must be a number"),
        ({"stop": ("",)}, "non-empty strings"),
        ({"stop": tuple("abcdefghijklmnopq")}, "at most 16"),
    ],
)
def test_settings_refuse_bad_values_naming_the_field(
    kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(InvalidRequestError, match=needle):
        GenerationSettings(**kwargs)  # type: ignore[arg-type]


def test_settings_merge_keeps_unset_fields() -> None:
    base = GenerationSettings(temperature=0.5, max_tokens=10, stop=("x",))
    merged = base.merged(GenerationSettings(max_tokens=3))
    assert merged == GenerationSettings(temperature=0.5, max_tokens=3, stop=("x",))
    assert GenerationSettings(stop="END").stop == ("END",)  # type: ignore[arg-type]


def test_request_checks() -> None:
    with pytest.raises(InvalidRequestError, match="at least one message"):
        ChatRequest(())
    with pytest.raises(InvalidRequestError, match="messages\\[0\\] is a str"):
        ChatRequest(("hello",))  # type: ignore[arg-type]
    tool = ToolSpec("add")
    with pytest.raises(InvalidRequestError, match="unique"):
        ChatRequest((Message.user("x"),), tools=(tool, tool))
    with pytest.raises(InvalidRequestError, match="names no tool"):
        ChatRequest((Message.user("x"),), tools=(tool,), tool_choice="sub")
    with pytest.raises(InvalidRequestError, match="'required' needs at least one tool"):
        ChatRequest((Message.user("x"),), tool_choice="required")


def test_as_messages_adds_system_once() -> None:
    msgs = as_messages("hi", system="be brief")
    assert [m.role for m in msgs] == ["system", "user"]
    with pytest.raises(InvalidRequestError, match="already start with a system message"):
        as_messages([Message.system("a"), Message.user("b")], system="c")
