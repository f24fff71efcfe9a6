"""The Backend protocol and the capabilities a backend reports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias, runtime_checkable

from hearth.accelerator import Placement
from hearth.embeddings import Embeddings
from hearth.errors import UnsupportedFeatureError
from hearth.events import StreamEvent
from hearth.request import ChatRequest, EmbedRequest
from hearth.response import Response, ResponseAccumulator

if TYPE_CHECKING:
    from hearth.input_limits import InputLimits

Accelerator: TypeAlias = Literal["cpu", "gpu", "remote"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do. ``context_length`` is None when the backend does not say.

    ``placement``: for a loaded local model, where llama.cpp put it (backend such as CPU or
    CUDA, layers offloaded, memory of its weights and KV cache); None otherwise.

    ``raw_completion``: it takes a raw-prompt request (:attr:`ChatRequest.prompt`: the text is
    continued as it is, with no chat template). Local text-generation models do, and so do
    remote endpoints whose API has raw completion (vLLM, llama-server, LM Studio, Ollama,
    ``hearth serve``, OpenAI's completion models such as ``gpt-3.5-turbo-instruct``). The others
    (Anthropic, Gemini, OpenAI's chat models, …) refuse such a request with
    :class:`~hearth.errors.UnsupportedFeatureError` before sending anything (see
    :func:`raw_completion_unsupported`).

    ``choices``: the most answers one request may ask for (``GenerationSettings.n``); a local
    model gives as many as it has slots (its engine's setting, once loaded), remote backends
    one.
    """

    streaming: bool = True
    tools: bool = False
    structured_output: bool = False
    vision: bool = False
    embeddings: bool = False
    thinking: bool = False
    context_length: int | None = None
    accelerator: Accelerator = "cpu"
    raw_completion: bool = False
    choices: int = 1
    placement: Placement | None = None


def raw_completion_unsupported(
    name: str, instead: str = "send messages instead"
) -> UnsupportedFeatureError:
    """The error for a raw-prompt request to a backend that only chats (or only embeds)."""
    return UnsupportedFeatureError(
        f"{name} does not take a raw text completion (a prompt continued without a chat "
        "template): it is only available on local text-generation models and on remote "
        "endpoints whose API has one (vLLM, llama-server, LM Studio, Ollama, hearth serve, "
        "and OpenAI's completion models such as gpt-3.5-turbo-instruct; for another "
        "OpenAI-compatible server that has /completions, set raw_completion=true on its "
        f"provider); {instead}"
    )


@runtime_checkable
class Backend(Protocol):
    """A model behind one provider.

    ``stream`` / ``astream`` return iterators of events ending with exactly one ``Done``. Closing
    the iterator early (``close()`` / ``aclose()``, leaving a ``for`` loop through ``break`` and
    then dropping it, or cancelling the task) stops the generation.
    """

    @property
    def name(self) -> str: ...

    def capabilities(self) -> Capabilities: ...

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]: ...

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]: ...

    def chat(self, request: ChatRequest) -> Response: ...

    async def achat(self, request: ChatRequest) -> Response: ...

    def embed(self, request: EmbedRequest) -> Embeddings: ...

    async def aembed(self, request: EmbedRequest) -> Embeddings: ...

    def close(self) -> None: ...


class BackendBase:
    """Implements ``chat`` / ``achat`` on top of ``stream`` / ``astream``."""

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        raise NotImplementedError

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        raise NotImplementedError

    def chat(self, request: ChatRequest) -> Response:
        acc = ResponseAccumulator()
        events = self.stream(request)
        try:
            for event in events:
                acc.add(event)
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        return acc.response()

    async def achat(self, request: ChatRequest) -> Response:
        acc = ResponseAccumulator()
        events = self.astream(request)
        try:
            async for event in events:
                acc.add(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        return acc.response()

    def count_tokens(self, request: ChatRequest) -> int | None:
        """How many tokens the request's prompt takes, or None when this backend cannot count
        them here (remote APIs; a request the local template cannot render). Backends with a
        ``prompt_tokens(request) -> list[int]`` method (the local one) count with it."""
        from hearth.errors import HearthError

        counter = getattr(self, "prompt_tokens", None)
        if counter is None:
            return None
        try:
            return len(counter(request))
        except HearthError:
            return None

    def input_limits(self) -> InputLimits | None:
        """The most one request may hold (messages, bytes of text), known before anything works
        on it; None when the backend sets no bounds of its own (see :mod:`hearth.input_limits`)."""
        return None

    def context_window(self) -> int | None:
        """The context window in tokens, or None when the backend does not say."""
        capabilities = getattr(self, "capabilities", None)
        if capabilities is None:
            return None
        caps: Capabilities = capabilities()
        return caps.context_length

    def embed(self, request: EmbedRequest) -> Embeddings:
        """One vector per text of ``request`` (see :mod:`hearth.embeddings`). This default
        refuses."""
        name = getattr(self, "name", type(self).__name__)
        raise UnsupportedFeatureError(
            f"{name} cannot embed; use an embedding model, e.g. local:minilm"
        )

    async def aembed(self, request: EmbedRequest) -> Embeddings:
        """The async twin of :meth:`embed`. This default refuses."""
        return self.embed(request)

    def close(self) -> None:
        """Release what the backend holds (threads, model memory, connections)."""
