"""Input limits: what a context window could hold bounds a request before any template or
tokenizer works on it, and text that is not valid Unicode is refused naming its field."""

from __future__ import annotations

import time

import pytest

from hearth.errors import ContextLengthExceededError, InvalidRequestError
from hearth.input_limits import InputLimits, InputTooLargeError, check_input
from hearth.messages import Message, TextPart, ToolCallPart, ToolResultPart
from hearth.request import ChatRequest, OutputFormat, ToolSpec

WINDOW = InputLimits.for_window(8192, 81, "local:smollm2")
SOURCE = (
    "what local:smollm2's context window of 8192 tokens could ever hold (its longest token is "
    "81 bytes)"
)


def test_a_window_holds_as_many_messages_as_tokens_and_that_many_longest_tokens_of_text() -> None:
    assert (WINDOW.max_messages, WINDOW.max_message_bytes, WINDOW.max_text_bytes) == (
        8192,
        8192 * 81,
        8192 * 81,
    )


def test_a_hundred_thousand_messages_are_refused_at_once() -> None:
    request = ChatRequest(tuple(Message.user("x") for _ in range(100_001)))
    start = time.monotonic()
    with pytest.raises(InputTooLargeError) as caught:
        check_input(request, WINDOW)
    assert time.monotonic() - start < 0.5
    assert str(caught.value) == f"messages: 100001 messages is more than 8192, {SOURCE}; send fewer"
    # it does not fit the window: the agent compacts on it, each API reports it as such
    assert isinstance(caught.value, ContextLengthExceededError)
    assert (caught.value.prompt_tokens, caught.value.context_length) == (100_001, 8192)


def test_a_message_bigger_than_the_window_is_refused_for_its_size() -> None:
    big = "x" * 7_500_000
    request = ChatRequest((Message.user("hi"), Message.user(big)))
    with pytest.raises(InputTooLargeError) as caught:
        check_input(request, WINDOW)
    assert str(caught.value) == (
        f"messages[1]: 7500000 bytes of text is more than 663552, {SOURCE}; shorten it"
    )
    assert caught.value.prompt_tokens == -(-7_500_000 // 81)  # at least that many tokens


def test_the_whole_request_counts_tools_and_schemas_too() -> None:
    tool = ToolSpec("lookup", "d" * 400_000)
    fmt = OutputFormat("json_schema", schema={"description": "s" * 300_000})
    request = ChatRequest((Message.user("hi"),), tools=(tool,), response_format=fmt)
    with pytest.raises(InputTooLargeError, match=r"^the request holds 7000"):
        check_input(request, WINDOW)


def test_text_that_fits_passes_and_costs_no_copy() -> None:
    request = ChatRequest((Message.user("x" * 600_000),))
    start = time.monotonic()
    check_input(request, WINDOW)
    assert time.monotonic() - start < 0.05


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Message.user("a\ud800b"), "messages[0].parts[0]"),
        (
            Message.assistant([ToolCallPart("c1", "get\udfff", "{}")]),
            "messages[0].parts[0].name",
        ),
        (
            Message.assistant([ToolCallPart("c1", "get", '{"a": "\ud83d"}')]),
            "messages[0].parts[0].arguments",
        ),
        (Message.tool(ToolResultPart("c1", "r\udc00")), "messages[0].parts[0].content"),
        (Message.user([TextPart("fine"), TextPart("\udbff!")]), "messages[0].parts[1]"),
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(message: Message, field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_input(ChatRequest((message,)))
    assert str(caught.value).startswith(f"{field}: not valid Unicode text: it holds a lone ")


def test_lone_surrogates_in_tool_definitions_are_refused_naming_the_tool() -> None:
    tool = ToolSpec("pick", parameters={"type": "string", "enum": ["a", "\ud800"]})
    with pytest.raises(InvalidRequestError, match=r"^tools\[0\]\.parameters: not valid Unicode"):
        check_input(ChatRequest((Message.user("x"),), tools=(tool,)))


def test_limits_a_server_sets_are_not_a_context_window() -> None:
    request = ChatRequest(tuple(Message.user("x") for _ in range(5)))
    with pytest.raises(InputTooLargeError) as caught:
        check_input(request, InputLimits(max_messages=4, source="the server's limit"))
    assert not isinstance(caught.value, ContextLengthExceededError)


def test_limits_must_be_positive() -> None:
    with pytest.raises(InvalidRequestError, match="max_messages must be at least 1, got 0"):
        InputLimits(max_messages=0)
