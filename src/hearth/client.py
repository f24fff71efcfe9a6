"""The Python API: ``hearth.model("provider:name")`` → :class:`Model`.

>>> m = hearth.model("local:smollm2")
>>> m.chat("What is the capital of France?").text
>>> with m.stream("Tell me a story", max_tokens=64) as s:
...     for piece in s.text_stream:
...         print(piece, end="")

Sync and async twins share everything but the I/O: :class:`ChatStream` and
:class:`AsyncChatStream` are thin shells over one :class:`ResponseAccumulator`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from types import TracebackType
from typing import TypedDict, Unpack

from hearth.backends.base import Backend, Capabilities
from hearth.backends.registry import create_backend
from hearth.events import StreamEvent, TextDelta
from hearth.messages import Message
from hearth.request import ChatRequest, as_messages
from hearth.response import Response, ResponseAccumulator
from hearth.settings import GenerationSettings

DEFAULT_MODEL = "local:smollm2"

Prompt = str | Message | Sequence[Message]


class SettingsOverrides(TypedDict, total=False):
    """Keyword arguments that override fields of :class:`GenerationSettings`."""

    temperature: float
    top_p: float
    top_k: int
    min_p: float
    repeat_penalty: float
    presence_penalty: float
    frequency_penalty: float
    seed: int
    max_tokens: int
    stop: tuple[str, ...] | list[str] | str
    thinking: bool
    thinking_budget: int


def model(spec: str | None = None, /, **options: object) -> Model:
    """A model by ``"provider:name"``: ``local:smollm2``, ``local:/path/to/file.gguf``, …

    With no ``spec``, the configured default (``$HEARTH_MODEL``, else the config file's
    ``default_model``, else ``local:smollm2``); an ``[aliases]`` name is replaced by its target
    (see :mod:`hearth.config`, read once per call). ``options`` go to the backend (for local
    models: n_ctx, n_threads, timeout, verbose, …). An unknown provider or model raises; nothing
    falls back to a default.
    """
    from hearth.config import resolve_model_spec

    return Model(create_backend(resolve_model_spec(spec), **options))


class Model:
    """A model you can chat with, stream from, and close. Usable as a context manager."""

    def __init__(self, backend: Backend, settings: GenerationSettings | None = None) -> None:
        self.backend = backend
        self.settings = settings or GenerationSettings()

    @property
    def name(self) -> str:
        return self.backend.name

    def __repr__(self) -> str:
        return f"Model({self.name!r})"

    def capabilities(self) -> Capabilities:
        return self.backend.capabilities()

    def request(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> ChatRequest:
        """The ChatRequest that chat/stream would send."""
        merged = self.settings.merged(settings)
        if overrides:
            merged = merged.merged(GenerationSettings(**overrides))  # type: ignore[arg-type]
        return ChatRequest(as_messages(prompt, system=system), merged)

    def chat(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Response:
        """Send a prompt (a string, a Message or a list of them) and wait for the answer."""
        return self.backend.chat(self.request(prompt, settings, system=system, **overrides))

    async def achat(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Response:
        return await self.backend.achat(self.request(prompt, settings, system=system, **overrides))

    def stream(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> ChatStream:
        """Stream the answer. Use as a context manager; leaving it early stops generation."""
        return ChatStream(
            self.backend.stream(self.request(prompt, settings, system=system, **overrides))
        )

    def astream(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> AsyncChatStream:
        return AsyncChatStream(
            self.backend.astream(self.request(prompt, settings, system=system, **overrides))
        )

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ChatStream:
    """A streamed answer: iterate for events, ``text_stream`` for text, ``response`` at the end.

    Closing it (leaving the ``with`` block, or :meth:`close`) before the end stops generation.
    """

    def __init__(self, events: Iterator[StreamEvent]) -> None:
        self._events = events
        self._acc = ResponseAccumulator()

    def __iter__(self) -> Iterator[StreamEvent]:
        for event in self._events:
            self._acc.add(event)
            yield event

    @property
    def text_stream(self) -> Iterator[str]:
        """Only the answer's text, piece by piece."""
        for event in self:
            if isinstance(event, TextDelta):
                yield event.text

    @property
    def text(self) -> str:
        """The answer text received so far."""
        return self._acc.text

    @property
    def response(self) -> Response:
        """The whole Response; reads the rest of the stream first if needed."""
        if self._acc.done is None:
            for _ in self:
                pass
        return self._acc.response()

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncChatStream:
    """The async twin of :class:`ChatStream`."""

    def __init__(self, events: AsyncIterator[StreamEvent]) -> None:
        self._events = events
        self._acc = ResponseAccumulator()

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        async for event in self._events:
            self._acc.add(event)
            yield event

    @property
    async def text_stream(self) -> AsyncIterator[str]:
        async for event in self:
            if isinstance(event, TextDelta):
                yield event.text

    @property
    def text(self) -> str:
        return self._acc.text

    async def get_response(self) -> Response:
        if self._acc.done is None:
            async for _ in self:
                pass
        return self._acc.response()

    async def aclose(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class Conversation:
    """A chat that remembers: each answer is added to the history the next prompt is sent with."""

    def __init__(
        self,
        model: Model,
        *,
        system: str | None = None,
        settings: GenerationSettings | None = None,
    ) -> None:
        self.model = model
        self.system = system
        self.settings = settings
        self.messages: list[Message] = []
        self.reset()

    def reset(self) -> None:
        """Forget every turn but the system prompt."""
        self.messages = [Message.system(self.system)] if self.system is not None else []

    def send(self, text: str | Message, **overrides: Unpack[SettingsOverrides]) -> Response:
        user = Message.user(text) if isinstance(text, str) else text
        response = self.model.chat([*self.messages, user], self.settings, **overrides)
        self.messages += [user, response.message]
        return response

    def stream(self, text: str | Message, **overrides: Unpack[SettingsOverrides]) -> ChatStream:
        """Stream the answer; the turn joins the history once the stream has finished."""
        user = Message.user(text) if isinstance(text, str) else text
        inner = self.model.stream([*self.messages, user], self.settings, **overrides)
        return ChatStream(self._record(user, inner))

    def _record(self, user: Message, inner: ChatStream) -> Iterator[StreamEvent]:
        try:
            yield from inner
        finally:
            inner.close()
        if inner._acc.done is not None:
            self.messages += [user, inner.response.message]
