"""The Python API: ``hearth.model("provider:name")`` → :class:`Model`.

>>> m = hearth.model("local:smollm2")
>>> m.chat("What is the capital of France?").text
>>> with m.stream("Tell me a story", max_tokens=64) as s:
...     for piece in s.text_stream:
...         print(piece, end="")
>>> m.complete("Once upon a time", max_tokens=32).text   # raw text, no chat template

Sync and async twins share everything but the I/O: :class:`ChatStream` and
:class:`AsyncChatStream` are thin shells over one :class:`ResponseAccumulator`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict, TypeVar, Unpack, overload

from hearth.backends.base import Backend, Capabilities, raw_completion_unsupported
from hearth.backends.registry import create_backend
from hearth.embeddings import DEFAULT_EMBEDDING_MODEL, Embeddings
from hearth.errors import InvalidRequestError
from hearth.events import StreamEvent, TextDelta
from hearth.messages import JsonObject, JsonValue, Message
from hearth.request import (
    ChatRequest,
    EmbedRequest,
    OutputFormat,
    ToolChoice,
    ToolSpec,
    as_messages,
)
from hearth.response import Response, ResponseAccumulator
from hearth.settings import GenerationSettings
from hearth.tools import Tool, as_tool

if TYPE_CHECKING:
    from pydantic import BaseModel

    from hearth.dict_messages import MessageDict
    from hearth.model_options import ModelOptions
    from hearth.output import OutputSpec, StructuredOutput

DEFAULT_MODEL = "local:smollm2"

Prompt: TypeAlias = "str | Message | MessageDict | Sequence[Message | MessageDict]"
"""What ``chat`` / ``stream`` / ``parse`` take: a string (one user message), a Message, an
OpenAI-style dict (``{"role": "user", "content": "Hi"}``), or a list of Messages and dicts."""

ToolLike: TypeAlias = "Tool | ToolSpec | Callable[..., object] | type[BaseModel]"
"""What ``tools=`` accepts: see :func:`hearth.tools.as_tool`."""

T = TypeVar("T")


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
    parallel_tool_calls: bool
    thinking: bool
    thinking_budget: int


@overload
def model(spec: str | None = None, /, **options: Unpack[ModelOptions]) -> Model: ...


@overload
def model(spec: str | None = None, /, **options: object) -> Model: ...


def model(spec: str | None = None, /, **options: object) -> Model:
    """A model by ``"provider:name"``: ``local:smollm2``, ``local:/path/to/file.gguf``, …

    With no ``spec``, the configured default (``$HEARTH_MODEL``, else the config file's
    ``default_model``, else ``local:smollm2``); an ``[aliases]`` name is replaced by its target,
    ``[providers.NAME]`` tables are providers and ``[[models]]`` local models (see
    :mod:`hearth.config`: the file is read here, once per call, and that configuration handed
    to the registry). ``options`` go to the backend: :class:`~hearth.model_options.ModelOptions`
    lists them (for local models n_ctx, n_threads, timeout, verbose, …; for remote ones api_key,
    base_url, max_retries, …); the second overload keeps ``**options`` from a dict type-checking.
    An unknown provider, model or option raises; nothing falls back to a default.
    Use it as a context manager (``with hearth.model(...) as m:``, or ``async with``) to close
    the model at the end.
    """
    from hearth.config import load_config

    config = load_config()
    return Model(create_backend(config.resolve_model(spec), config=config, **options))


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

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory, ready to answer without loading first. A local
        model loads on its first request (or ``backend.load()``); a remote one has nothing to
        load, so it is always True."""
        return bool(getattr(self.backend, "loaded", True))

    def request(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        tools: Iterable[ToolLike] = (),
        tool_choice: ToolChoice | Tool = "auto",
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> ChatRequest:
        """The ChatRequest that chat/stream would send.

        ``tools``: Tool objects, functions, pydantic model classes or ToolSpecs (the model sees
        their specs; running the calls is the caller's or the agent's job). ``tool_choice``:
        ``auto``, ``required``, ``none``, or a tool (or its name) the model must call.
        ``response_format``: a pydantic class, a JSON schema dict, ``"json"`` or an
        OutputFormat; the answer is then validated into ``Response.parsed``. ``extra_body``:
        fields of a remote provider's API that hearth does not model, merged into the request
        body (``extra_body={"logit_bias": {"50256": -100}}``); a field hearth sets itself is
        refused, and local models refuse any (see :attr:`ChatRequest.extra_body`)."""
        return self._build(
            prompt, settings, system, tools, tool_choice, response_format, overrides, extra_body
        )[0]

    def _build(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None,
        system: str | None,
        tools: Iterable[ToolLike],
        tool_choice: ToolChoice | Tool,
        response_format: OutputSpec | None,
        overrides: SettingsOverrides,
        extra_body: Mapping[str, JsonValue] | None = None,
    ) -> tuple[ChatRequest, StructuredOutput | None]:
        merged, output = self._shared(settings, response_format, overrides)
        request = ChatRequest(
            as_messages(prompt, system=system),
            merged,
            tools=tuple(t if isinstance(t, ToolSpec) else as_tool(t).spec for t in tools),
            tool_choice=tool_choice.name if isinstance(tool_choice, Tool) else tool_choice,
            response_format=output.format if output is not None else None,
            extra_body=extra_body,
        )
        return request, output

    def _shared(
        self,
        settings: GenerationSettings | None,
        response_format: OutputSpec | None,
        overrides: SettingsOverrides,
    ) -> tuple[GenerationSettings, StructuredOutput | None]:
        """The settings a call runs with, and its structured output (if asked for)."""
        merged = self.settings.merged(settings)
        if overrides:
            merged = merged.merged(GenerationSettings(**overrides))  # type: ignore[arg-type]
        if response_format is None:
            return merged, None
        from hearth.output import structured_output

        return merged, structured_output(response_format)

    def chat(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        tools: Iterable[ToolLike] = (),
        tool_choice: ToolChoice | Tool = "auto",
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Response:
        """Send a prompt (a string, a Message or a list of them) and wait for the answer.

        With ``response_format``, ``Response.parsed`` holds the validated answer, and an
        answer that does not validate raises OutputValidationError (its ``raw`` is the text).
        """
        request, output = self._build(
            prompt, settings, system, tools, tool_choice, response_format, overrides, extra_body
        )
        return with_parsed(self.backend.chat(request), output)

    async def achat(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        tools: Iterable[ToolLike] = (),
        tool_choice: ToolChoice | Tool = "auto",
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Response:
        request, output = self._build(
            prompt, settings, system, tools, tool_choice, response_format, overrides, extra_body
        )
        return with_parsed(await self.backend.achat(request), output)

    def stream(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        tools: Iterable[ToolLike] = (),
        tool_choice: ToolChoice | Tool = "auto",
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> ChatStream:
        """Stream the answer. Use as a context manager; leaving it early stops generation."""
        request, output = self._build(
            prompt, settings, system, tools, tool_choice, response_format, overrides, extra_body
        )
        return ChatStream(self.backend.stream(request), output=output)

    def astream(
        self,
        prompt: Prompt,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        tools: Iterable[ToolLike] = (),
        tool_choice: ToolChoice | Tool = "auto",
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> AsyncChatStream:
        request, output = self._build(
            prompt, settings, system, tools, tool_choice, response_format, overrides, extra_body
        )
        return AsyncChatStream(self.backend.astream(request), output=output)

    # -- raw text completion: the prompt is continued as it is, with no chat template ----------

    def _build_raw(
        self,
        prompt: str,
        settings: GenerationSettings | None,
        response_format: OutputSpec | None,
        overrides: SettingsOverrides,
        extra_body: Mapping[str, JsonValue] | None = None,
    ) -> tuple[ChatRequest, StructuredOutput | None]:
        if not isinstance(prompt, str):
            raise InvalidRequestError(
                f"complete() takes the text to continue as a string, got a "
                f"{type(prompt).__name__}; use chat() for messages"
            )
        if not self.capabilities().raw_completion:  # before any backend sees it
            raise raw_completion_unsupported(self.name)
        merged, output = self._shared(settings, response_format, overrides)
        fmt = output.format if output is not None else None
        request = ChatRequest(
            prompt=prompt, settings=merged, response_format=fmt, extra_body=extra_body
        )
        return request, output

    def complete(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        *,
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Response:
        """Continue ``prompt`` as raw text: no chat template, no roles (a base model's use,
        like llama.cpp's ``/completion``). Special-token text in it (``<|im_start|>``) is
        read as those tokens. Local models, and remote ones whose API has raw completion (vLLM,
        llama-server, Ollama, hearth serve, OpenAI's instruct models); others raise
        UnsupportedFeatureError.
        ``response_format`` constrains the continuation as in :meth:`chat`."""
        request, output = self._build_raw(prompt, settings, response_format, overrides, extra_body)
        return with_parsed(self.backend.chat(request), output)

    async def acomplete(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        *,
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Response:
        """The async twin of :meth:`complete`."""
        request, output = self._build_raw(prompt, settings, response_format, overrides, extra_body)
        return with_parsed(await self.backend.achat(request), output)

    def stream_complete(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        *,
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> ChatStream:
        """Stream the raw continuation of ``prompt`` (see :meth:`complete`)."""
        request, output = self._build_raw(prompt, settings, response_format, overrides, extra_body)
        return ChatStream(self.backend.stream(request), output=output)

    def astream_complete(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        *,
        response_format: OutputSpec | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> AsyncChatStream:
        """The async twin of :meth:`stream_complete`."""
        request, output = self._build_raw(prompt, settings, response_format, overrides, extra_body)
        return AsyncChatStream(self.backend.astream(request), output=output)

    @overload
    def parse(
        self,
        prompt: Prompt,
        output: type[T],
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> T: ...

    @overload
    def parse(
        self,
        prompt: Prompt,
        output: JsonObject | OutputFormat | Literal["json"],
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Any: ...

    def parse(
        self,
        prompt: Prompt,
        output: OutputSpec,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Any:
        """Ask for an answer of the given shape and return it validated:
        ``m.parse("Name a city", City)`` → ``City(...)``. Raises OutputValidationError."""
        return self.chat(
            prompt,
            settings,
            system=system,
            response_format=output,
            extra_body=extra_body,
            **overrides,
        ).parsed

    @overload
    async def aparse(
        self,
        prompt: Prompt,
        output: type[T],
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> T: ...

    @overload
    async def aparse(
        self,
        prompt: Prompt,
        output: JsonObject | OutputFormat | Literal["json"],
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Any: ...

    async def aparse(
        self,
        prompt: Prompt,
        output: OutputSpec,
        settings: GenerationSettings | None = None,
        *,
        system: str | None = None,
        extra_body: Mapping[str, JsonValue] | None = None,
        **overrides: Unpack[SettingsOverrides],
    ) -> Any:
        """The async twin of :meth:`parse`."""
        response = await self.achat(
            prompt,
            settings,
            system=system,
            response_format=output,
            extra_body=extra_body,
            **overrides,
        )
        return response.parsed

    def embed(
        self,
        texts: Sequence[str] | str,
        *,
        dimensions: int | None = None,
        task: str | None = None,
        normalize: bool = True,
        truncate: bool = False,
    ) -> Embeddings:
        """One vector per text, in order (a single string gives one vector).

        ``dimensions`` keeps the first N values (Matryoshka) then renormalises; ``task`` is
        what the vectors are for (``query``, ``document``, …; see :mod:`hearth.embeddings`);
        ``truncate=True`` embeds the start of an input longer than the model's window instead
        of raising :class:`ContextLengthExceededError`. A model that cannot embed raises
        :class:`UnsupportedFeatureError`. The arguments become one
        :class:`~hearth.request.EmbedRequest`, checked once.
        """
        request = EmbedRequest(
            texts, dimensions=dimensions, task=task, normalize=normalize, truncate=truncate
        )
        return self.backend.embed(request)

    async def aembed(
        self,
        texts: Sequence[str] | str,
        *,
        dimensions: int | None = None,
        task: str | None = None,
        normalize: bool = True,
        truncate: bool = False,
    ) -> Embeddings:
        """The async twin of :meth:`embed`."""
        request = EmbedRequest(
            texts, dimensions=dimensions, task=task, normalize=normalize, truncate=truncate
        )
        return await self.backend.aembed(request)

    def close(self) -> None:
        """Release the model (a local one's llama.cpp context and worker thread)."""
        self.backend.close()

    async def aclose(self) -> None:
        """The async twin of :meth:`close`: waits for the worker thread off the event loop."""
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.close)

    def __enter__(self) -> Model:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Model:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ChatStream:
    """A streamed answer: iterate for events, ``text_stream`` for text, ``response`` at the end.

    Closing it (leaving the ``with`` block, or :meth:`close`) before the end stops generation.
    """

    def __init__(
        self, events: Iterator[StreamEvent], *, output: StructuredOutput | None = None
    ) -> None:
        self._events = events
        self._acc = ResponseAccumulator()
        self._output = output
        self._response: Response | None = None

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
        """The whole Response; reads the rest of the stream first if needed. With a
        response_format, its ``parsed`` is set (or OutputValidationError is raised)."""
        if self._response is None:
            if self._acc.done is None:
                for _ in self:
                    pass
            self._response = with_parsed(self._acc.response(), self._output)
        return self._response

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

    def __init__(
        self, events: AsyncIterator[StreamEvent], *, output: StructuredOutput | None = None
    ) -> None:
        self._events = events
        self._acc = ResponseAccumulator()
        self._output = output
        self._response: Response | None = None

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
        if self._response is None:
            if self._acc.done is None:
                async for _ in self:
                    pass
            self._response = with_parsed(self._acc.response(), self._output)
        return self._response

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


def with_parsed(response: Response, output: StructuredOutput | None) -> Response:
    """``response`` with ``parsed`` set from its text when a response_format was asked for.
    An answer that called tools instead is left unparsed. Raises OutputValidationError."""
    if output is None or response.tool_calls:
        return response
    parsed = output.parse(response.text, stop_reason=response.stop_reason)
    return dataclasses.replace(response, parsed=parsed)


def _open_model(spec: str, options: dict[str, object]) -> Model:
    """:func:`model`, for the functions below whose ``model`` parameter hides it."""
    return model(spec, **options)


def embed(
    texts: Sequence[str] | str,
    model: str = DEFAULT_EMBEDDING_MODEL,
    *,
    dimensions: int | None = None,
    task: str | None = None,
    normalize: bool = True,
    truncate: bool = False,
    **options: object,
) -> Embeddings:
    """Embed ``texts`` with ``model`` (default ``local:minilm``), then close the model.

    ``options`` go to the backend, as for :func:`hearth.model`. Each call loads the model; to
    embed repeatedly, keep a model: ``m = hearth.model("local:minilm"); m.embed(...)``.

    >>> import hearth
    >>> result = hearth.embed(["a cat", "a dog"])          # local:minilm, 384 dimensions
    >>> len(result.vectors), len(result.vectors[0])
    (2, 384)
    """
    request = EmbedRequest(
        texts, dimensions=dimensions, task=task, normalize=normalize, truncate=truncate
    )
    with _open_model(model, options) as m:
        return m.backend.embed(request)


async def aembed(
    texts: Sequence[str] | str,
    model: str = DEFAULT_EMBEDDING_MODEL,
    *,
    dimensions: int | None = None,
    task: str | None = None,
    normalize: bool = True,
    truncate: bool = False,
    **options: object,
) -> Embeddings:
    """The async twin of :func:`embed`."""
    request = EmbedRequest(
        texts, dimensions=dimensions, task=task, normalize=normalize, truncate=truncate
    )
    m = _open_model(model, options)
    try:
        return await m.backend.aembed(request)
    finally:
        m.close()
