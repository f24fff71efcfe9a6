"""Conversation: a chat that remembers its history, over a :class:`~hearth.client.Model`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, TypedDict, Unpack

from hearth.client import AsyncChatStream, ChatStream, Model, SettingsOverrides, ToolLike
from hearth.events import StreamEvent
from hearth.messages import JsonValue, Message
from hearth.request import (
    ToolChoice,
)
from hearth.response import Response
from hearth.settings import GenerationSettings
from hearth.tools import Tool

if TYPE_CHECKING:

    from hearth.dict_messages import MessageDict
    from hearth.output import OutputSpec



class Conversation:
    """A chat that remembers: each answer is added to the history the next prompt is sent with.

    ``tools``, ``tool_choice`` and ``response_format`` given here apply to every turn; the same
    keyword arguments on :meth:`send` / :meth:`stream` replace them for that turn only (None:
    keep the conversation's). The tool calls the model makes join the history like any answer;
    running them and sending the results (``send(Message.tool(...))``) is the caller's job, or
    use :class:`hearth.agent.Agent`.
    """

    def __init__(
        self,
        model: Model,
        *,
        system: str | None = None,
        settings: GenerationSettings | None = None,
        tools: Iterable[ToolLike] = (),
        tool_choice: ToolChoice | Tool = "auto",
        response_format: OutputSpec | None = None,
    ) -> None:
        self.model = model
        self.system = system
        self.settings = settings
        self.tools: tuple[ToolLike, ...] = tuple(tools)
        self.tool_choice = tool_choice
        self.response_format = response_format
        self.messages: list[Message] = []
        self.reset()

    def reset(self) -> None:
        """Forget every turn but the system prompt."""
        self.messages = [Message.system(self.system)] if self.system is not None else []

    def send(
        self,
        text: str | Message | MessageDict,
        *,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoice | Tool | None = None,
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Response:
        """Send the next message (a string, a Message or an OpenAI-style dict) and wait for
        the answer (``parsed`` set with a response_format); the turn joins the history."""
        user = _one_message(text)
        response = self.model.chat(
            [*self.messages, user], self.settings,
            **self._turn(tools, tool_choice, response_format), **overrides,
        )  # fmt: skip
        self.messages += [user, response.message]
        return response

    def stream(
        self,
        text: str | Message | MessageDict,
        *,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoice | Tool | None = None,
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> ChatStream:
        """Stream the answer; the turn joins the history once the stream has finished."""
        user = _one_message(text)
        inner = self.model.stream(
            [*self.messages, user], self.settings,
            **self._turn(tools, tool_choice, response_format), **overrides,
        )  # fmt: skip
        return ChatStream(self._record(user, inner), output=inner._output)

    async def asend(
        self,
        text: str | Message | MessageDict,
        *,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoice | Tool | None = None,
        response_format: OutputSpec | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Response:
        """The async twin of :meth:`send`."""
        user = _one_message(text)
        response = await self.model.achat(
            [*self.messages, user], self.settings,
            **self._turn(tools, tool_choice, response_format), **overrides,
        )  # fmt: skip
        self.messages += [user, response.message]
        return response

    def astream(
        self,
        text: str | Message | MessageDict,
        *,
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoice | Tool | None = None,
        response_format: OutputSpec | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> AsyncChatStream:
        """The async twin of :meth:`stream`: ``async with chat.astream("Hi") as s:``."""
        user = _one_message(text)
        inner = self.model.astream(
            [*self.messages, user], self.settings,
            **self._turn(tools, tool_choice, response_format), **overrides,
        )  # fmt: skip
        return AsyncChatStream(self._arecord(user, inner), output=inner._output)

    def _turn(
        self,
        tools: Iterable[ToolLike] | None,
        tool_choice: ToolChoice | Tool | None,
        response_format: OutputSpec | None,
    ) -> _TurnOptions:
        return {
            "tools": self.tools if tools is None else tuple(tools),
            "tool_choice": self.tool_choice if tool_choice is None else tool_choice,
            "response_format": (
                self.response_format if response_format is None else response_format
            ),
        }

    def _record(self, user: Message, inner: ChatStream) -> Iterator[StreamEvent]:
        try:
            yield from inner
        finally:
            inner.close()
        if inner._acc.done is not None:
            self.messages += [user, inner._acc.response().message]


    async def _arecord(self, user: Message, inner: AsyncChatStream) -> AsyncIterator[StreamEvent]:
        try:
            async for event in inner:
                yield event
        finally:
            await inner.aclose()
        if inner._acc.done is not None:
            self.messages += [user, inner._acc.response().message]


def _one_message(text: str | Message | MessageDict) -> Message:
    """A conversation's next message: a string is the user's words."""
    if isinstance(text, str):
        return Message.user(text)
    if isinstance(text, Message):
        return text
    from hearth.dict_messages import messages_from_dicts

    (message,) = messages_from_dicts([text])
    return message


class _TurnOptions(TypedDict):
    tools: Iterable[ToolLike]
    tool_choice: ToolChoice | Tool
    response_format: OutputSpec | None
