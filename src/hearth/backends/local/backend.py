"""The local backend: a GGUF model run in-process by llama.cpp.

``hearth.model("local:smollm2")`` resolves a catalogue name (pulled into hearth's model store on
first use) or a path to a ``.gguf`` file. Nothing is loaded until the first request, or until
:meth:`LocalBackend.load` is called. Before llama.cpp sees the file, its SHA-256 (catalogue models)
and its GGUF header are checked, so a corrupt or truncated file is a clear error, not a crash.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from hearth.backends.base import BackendBase, Capabilities
from hearth.backends.local.channel import AsyncChannel, Channel, SyncChannel
from hearth.backends.local.engine import EngineConfig, LlamaEngine
from hearth.backends.local.scheduler import DEFAULT_MAX_QUEUE, GenerationJob, Scheduler
from hearth.backends.local.templates import ChatTemplate, select_template
from hearth.catalog.gguf_file import GGUFInfo, read_gguf
from hearth.catalog.progress import NullProgress, Progress, default_progress
from hearth.catalog.resolve import LocalModelRef, resolve_local
from hearth.catalog.store import ModelStore
from hearth.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    UnsupportedFeatureError,
)
from hearth.events import Done, StreamEvent
from hearth.request import ChatRequest
from hearth.settings import GenerationSettings

DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """Options of ``hearth.model("local:…", **options)``.

    * ``n_ctx``: context window in tokens (default min(trained length, 8192));
    * ``n_threads``: CPU threads (default: every core this process may use);
    * ``n_batch``: prompt tokens evaluated per step;
    * ``max_queue``: requests that may wait for the engine before new ones are refused;
    * ``timeout``: seconds a request may take, queueing included (None: no deadline);
    * ``verbose``: show llama.cpp's own log on stderr;
    * ``progress``: show a progress bar when a model is pulled (default: when stderr is a TTY).
    """

    n_ctx: int | None = None
    n_threads: int | None = None
    n_batch: int = 512
    max_queue: int = DEFAULT_MAX_QUEUE
    timeout: float | None = DEFAULT_TIMEOUT
    verbose: bool = False
    progress: bool | None = None

    def __post_init__(self) -> None:
        if self.max_queue < 1:
            raise InvalidRequestError(f"max_queue must be at least 1, got {self.max_queue}")
        if self.timeout is not None and not self.timeout > 0:
            raise InvalidRequestError(f"timeout must be a positive number, got {self.timeout}")


class LocalBackend(BackendBase):
    """A local GGUF model. Thread-safe: every call goes through one worker thread."""

    def __init__(self, spec: str, options: LocalOptions, store: ModelStore | None = None) -> None:
        self._spec = spec
        self.options = options
        self._store = store or ModelStore()
        self._ref: LocalModelRef = resolve_local(spec, self._store)
        self._lock = threading.Lock()
        self._scheduler: Scheduler | None = None
        self._template: ChatTemplate | None = None
        self._info: GGUFInfo | None = None

    @property
    def name(self) -> str:
        return f"local:{self._spec}"

    @property
    def path(self) -> Path:
        return self._ref.path

    # -- loading -------------------------------------------------------------------------------

    def load(self, progress: Progress | None = None) -> None:
        """Fetch (catalogue models), verify, validate and load the model. Idempotent."""
        with self._lock:
            if self._scheduler is not None:
                return
            path = self.fetch(progress)
            info = read_gguf(path)
            engine = LlamaEngine(
                path,
                EngineConfig(
                    n_ctx=self.options.n_ctx,
                    n_threads=self.options.n_threads,
                    n_batch=self.options.n_batch,
                    verbose=self.options.verbose,
                ),
            )
            entry = self._ref.entry
            self._template = select_template(
                gguf_template=info.chat_template,
                architecture=info.architecture,
                family=entry.template if entry is not None else None,
                bos_token=engine.bos_text,
                eos_token=engine.eos_text,
            )
            self._info = info
            self._scheduler = Scheduler(engine, max_queue=self.options.max_queue)

    def fetch(self, progress: Progress | None = None) -> Path:
        """The model's verified file, pulled into the store first if it is a catalogue model
        that is not there yet. Idempotent."""
        entry = self._ref.entry
        if entry is None:
            return self._ref.path
        return self._store.ensure(entry, progress=progress or self._default_progress())

    def _default_progress(self) -> Progress:
        if self.options.progress is None:
            return default_progress()
        if not self.options.progress:
            return NullProgress()
        from hearth.catalog.progress_rich import RichProgress

        return RichProgress()

    def _running(self) -> Scheduler:
        self.load()
        assert self._scheduler is not None
        return self._scheduler

    @property
    def engine(self) -> LlamaEngine:
        return self._running().engine

    def capabilities(self) -> Capabilities:
        n_ctx = self._scheduler.engine.n_ctx if self._scheduler is not None else None
        return Capabilities(streaming=True, context_length=n_ctx, accelerator="cpu")

    # -- requests ------------------------------------------------------------------------------

    def prompt_tokens(self, request: ChatRequest) -> list[int]:
        """The request rendered by the model's chat template and tokenized."""
        scheduler = self._running()
        if request.tools:
            raise UnsupportedFeatureError(
                f"{self.name} does not take tools yet; call it without tools"
            )
        if request.settings.thinking:
            raise UnsupportedFeatureError(
                f"{self.name} is not a reasoning model; call it without thinking=True"
            )
        assert self._template is not None
        text = self._template.render(request.messages, add_generation_prompt=True)
        engine = scheduler.engine
        has_bos = bool(engine.bos_text) and text.startswith(engine.bos_text)
        return engine.tokenize(text, add_special=engine.add_bos and not has_bos)

    def _job(self, request: ChatRequest, channel: Channel) -> GenerationJob:
        tokens = self.prompt_tokens(request)
        n_ctx = self.engine.n_ctx
        if len(tokens) >= n_ctx:
            raise ContextLengthExceededError(len(tokens), n_ctx)
        assert self._template is not None
        timeout = self.options.timeout
        entry = self._ref.entry
        defaults = entry.sampling if entry is not None else GenerationSettings()
        return GenerationJob(
            prompt=tokens,
            settings=defaults.merged(request.settings),
            channel=channel,
            hidden_stop=self._template.stop_strings,
            deadline=None if timeout is None else time.monotonic() + timeout,
            model_name=self.name,
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        channel = SyncChannel()
        job = self._job(request, channel)
        self._running().submit(job)
        return _EventStream(job, channel)

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return _async_events(self, request)

    def close(self) -> None:
        with self._lock:
            if self._scheduler is not None:
                self._scheduler.close()
                self._scheduler = None


class _EventStream(Iterator[StreamEvent]):
    """The events of one submitted job. Closing it, or dropping it unread, cancels the job."""

    def __init__(self, job: GenerationJob, channel: SyncChannel) -> None:
        self._job = job
        self._channel = channel
        self._finished = False

    def __next__(self) -> StreamEvent:
        if self._finished:
            raise StopIteration
        item = self._channel.get()
        if isinstance(item, BaseException):
            self.close()
            raise item
        if isinstance(item, Done):
            self._finished = True
        return item

    def close(self) -> None:
        self._finished = True
        self._job.cancel()

    def __del__(self) -> None:
        self._job.cancel()


async def _async_events(backend: LocalBackend, request: ChatRequest) -> AsyncIterator[StreamEvent]:
    import anyio.to_thread

    if backend._scheduler is None:  # loading takes seconds: keep it off the event loop
        await anyio.to_thread.run_sync(backend.load)
    channel = AsyncChannel()
    job = backend._job(request, channel)
    backend._running().submit(job)
    try:
        while True:
            item = await channel.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if isinstance(item, Done):
                return
    finally:
        job.cancel()


def create_backend(model: str, /, **options: object) -> LocalBackend:
    """Registry factory for ``local:MODEL``."""
    try:
        opts = LocalOptions(**options)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InvalidRequestError(f"unknown option for a local model: {exc}") from None
    return LocalBackend(model, opts)


def create_hf_backend(model: str, /, **options: object) -> LocalBackend:
    """Registry factory for ``hf:ORG/REPO/FILE.gguf``: the same as ``local:hf:…``."""
    return create_backend(f"hf:{model}", **options)
