"""The local backend: a GGUF model run in-process by llama.cpp.

``hearth.model("local:smollm2")`` resolves a catalogue name (pulled into hearth's model store on
first use) or a path to a ``.gguf`` file. Nothing is loaded until the first request, or until
:meth:`LocalBackend.load` is called. Before llama.cpp sees the file, its SHA-256 (catalogue models)
and its GGUF header are checked, so a corrupt or truncated file is a clear error, not a crash.

A chat request is rendered by the model's chat template; a raw-prompt request
(``ChatRequest.prompt``, ``Model.complete``) is tokenized as it is (:meth:`LocalBackend.raw_tokens`)
and continued, stopping at an end-of-generation token, a stop string or ``max_tokens``, without
the template's own stop strings.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from hearth.accelerator import AcceleratorOptions, Placement
from hearth.backends.base import BackendBase, Capabilities
from hearth.backends.local.channel import AsyncChannel, Channel, LoopWaker, SyncChannel
from hearth.backends.local.constraints import Constraint, ConstraintCompiler
from hearth.backends.local.decision import SETTINGS as DECISION_SETTINGS
from hearth.backends.local.decision import Decision, DecisionReader, with_usage
from hearth.backends.local.draft_model import DraftModel, load_draft
from hearth.backends.local.embed import LocalEmbedding
from hearth.backends.local.engine import DEFAULT_N_CTX, EngineConfig, LlamaEngine
from hearth.backends.local.grammars import output_grammar
from hearth.backends.local.job import GenerationJob
from hearth.backends.local.limits import longest_token_bytes
from hearth.backends.local.options import DEFAULT_TIMEOUT, LocalOptions
from hearth.backends.local.reasoning import ThinkingSyntax, detect_thinking
from hearth.backends.local.scheduler import Scheduler
from hearth.backends.local.shaping import OutputPlan, decided, plan_output
from hearth.backends.local.templates import ChatTemplate, select_template
from hearth.backends.local.thinking_setup import ThinkingSetup, check_request
from hearth.backends.local.thinkstream import Transform
from hearth.backends.local.vision import ImagePrompt, Projector
from hearth.backends.local.vision_setup import (
    fetch_projector,
    load_projector,
    marked_messages,
    projector_ref,
    request_images,
    tokenize_with_images,
)
from hearth.catalog.entries import Catalog, CatalogEntry
from hearth.catalog.gguf_file import GGUFInfo, read_gguf
from hearth.catalog.progress import NullProgress, Progress, default_progress
from hearth.catalog.resolve import LocalModelRef, resolve_local
from hearth.catalog.store import ModelStore
from hearth.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    ModelClosedError,
    UnsupportedFeatureError,
)
from hearth.events import Done, StreamEvent, Usage
from hearth.input_limits import InputLimits, check_input
from hearth.messages import Message
from hearth.request import ChatRequest, OutputFormat
from hearth.settings import GenerationSettings
from hearth.tokens import check_token_ids

__all__ = ["DEFAULT_TIMEOUT", "LocalBackend", "LocalOptions", "create_backend", "create_hf_backend"]


class LocalBackend(LocalEmbedding, BackendBase):
    """A local GGUF model. Thread-safe: every call goes through one worker thread."""

    def __init__(
        self,
        spec: str,
        options: LocalOptions,
        store: ModelStore | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self._spec = spec
        self.options = options
        self._store = store or ModelStore()
        self._ref: LocalModelRef = resolve_local(spec, self._store, catalog, options.sha256)
        self.draft_model = self._draft_spec()
        """The model that drafts for this one (speculative decoding); None: prompt lookup."""
        draft = self.draft_model
        self._draft_ref = None if draft is None else resolve_local(draft, self._store, catalog)
        self._lock = threading.Lock()
        self._scheduler: Scheduler | None = None
        self._waker: LoopWaker | None = None  # shared by the channels of one event loop
        self._template: ChatTemplate | None = None
        self._info: GGUFInfo | None = None
        self._constraints: ConstraintCompiler | None = None
        self._closed = False
        self._limits: InputLimits | None = None
        self._thinking: ThinkingSetup | None = None
        self._mmproj = projector_ref(options.mmproj, options.mmproj_sha256, self.entry, self._store)
        self._projector: Projector | None = None

    @property
    def name(self) -> str:
        return f"local:{self._spec}"

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (for chat, or for embedding)."""
        return self._scheduler is not None or self._embedder is not None

    @property
    def path(self) -> Path:
        return self._ref.path

    @property
    def entry(self) -> CatalogEntry | None:
        """The model's catalogue entry (None for a bare path)."""
        return self._ref.entry

    def accelerator_options(self) -> AcceleratorOptions:
        """The options given to this backend over its catalogue entry's."""
        entry = self._ref.entry
        base = entry.accelerator if entry is not None else AcceleratorOptions()
        return self.options.accelerator().over(base)

    @property
    def placement(self) -> Placement | None:
        """Where the loaded model is (backend, layers offloaded, memory); None until loaded."""
        return self._scheduler.engine.placement if self._scheduler is not None else None

    @property
    def info(self) -> GGUFInfo | None:
        """The loaded GGUF file's header (for a converted model, the conversion's); None until
        :meth:`load` has read it."""
        return self._info

    # -- loading -------------------------------------------------------------------------------

    def load(self, progress: Progress | None = None) -> None:
        """Fetch (catalogue models), verify, validate and load the model. Idempotent."""
        with self._lock:
            if self._closed:
                raise ModelClosedError(self.name)
            if self._scheduler is not None:
                return
            path = self.fetch(progress)
            info = read_gguf(path)
            self._info = info
            if self._embedding_only(info):
                return  # its embedding contexts load when it first embeds
            engine = LlamaEngine(
                path,
                EngineConfig(
                    n_ctx=self.options.n_ctx,
                    n_threads=self.options.n_threads,
                    n_batch=self.options.n_batch,
                    slots=self.options.slots,
                    verbose=self.options.verbose,
                    accelerator=self.accelerator_options(),
                ),
            )
            entry = self._ref.entry
            self._template = select_template(
                gguf_template=self._template_source(info),
                architecture=info.architecture,
                family=entry.template if entry is not None else None,
                bos_token=engine.bos_text,
                eos_token=engine.eos_text,
            )
            syntax = self._thinking_syntax(info)
            if syntax is not None:
                message = self.options.thinking_budget_message
                self._thinking = ThinkingSetup.for_engine(syntax, engine, message)
            self._info = info
            self._limits = InputLimits.for_window(
                engine.n_ctx, longest_token_bytes(engine), self.name
            )
            self._constraints = ConstraintCompiler(engine)
            try:
                self._projector = self._load_projector(engine, progress)
                draft = self._load_draft(engine, progress)
            except BaseException:  # nothing holds the engine yet
                if self._projector is not None:
                    self._projector.close()
                    self._projector = None
                engine.close()
                raise
            self._scheduler = Scheduler(
                engine,
                max_queue=self.options.max_queue,
                prefix_cache=self.options.prefix_cache,
                speculative=self.options.speculative,
                projector=self._projector,
                draft_model=draft,
            )

    def _load_projector(self, engine: LlamaEngine, progress: Progress | None) -> Projector | None:
        """The vision projector (``mmproj``), fetched, checked and loaded; None without one."""
        if self._mmproj is None:
            return None
        path = fetch_projector(self._mmproj, self._store, progress or self._default_progress())
        return load_projector(engine, path)

    def _draft_spec(self) -> str | None:
        """The model that drafts for this one: the ``draft_model`` option, else the catalogue
        entry's (none with ``speculative="off"``)."""
        if self.options.speculative == "off":
            return None
        entry = self._ref.entry
        return self.options.draft_model or (entry.draft_model if entry is not None else None)

    def _load_draft(self, engine: LlamaEngine, progress: Progress | None) -> DraftModel | None:
        """Fetch and load the draft model for ``engine`` (None when there is none)."""
        ref = self._draft_ref
        if ref is None:
            return None
        entry = ref.entry
        path = ref.path
        if entry is not None:
            path = self._store.ensure(entry, progress=progress or self._default_progress())
        accelerator = self.options.accelerator().over(
            entry.accelerator if entry is not None else AcceleratorOptions()
        )
        return load_draft(
            path, f"local:{self.draft_model}", engine, self.name,
            accelerator=accelerator, verbose=self.options.verbose,
        )  # fmt: skip

    def _template_source(self, info: GGUFInfo) -> str | None:
        """The Jinja chat template: the ``chat_template`` option, else the catalogue entry's,
        else the file's."""
        if self.options.chat_template is not None:
            return self.options.chat_template
        entry = self._ref.entry
        if entry is not None and entry.chat_template is not None:
            return entry.chat_template
        return info.chat_template

    def _thinking_syntax(self, info: GGUFInfo) -> ThinkingSyntax | None:
        """How the model thinks (None: it does not); see :mod:`~hearth.backends.local.reasoning`."""
        entry = self._ref.entry
        return detect_thinking(
            self._template_source(info),
            f"{self._spec} {info.name or ''}",
            tags=self._tags(),
            capability=entry is not None and "thinking" in entry.capabilities,
        )

    def _tags(self) -> tuple[str, ...] | None:
        """The ``thinking_tags`` override: the option's, else the catalogue entry's."""
        if self.options.thinking_tags is not None:
            return tuple(self.options.thinking_tags)
        entry = self._ref.entry
        return entry.thinking_tags if entry is not None else None

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
        if self._scheduler is None:
            raise UnsupportedFeatureError(
                f"{self.name} is an embedding model: it cannot chat or generate text. "
                "Use embed() with it, or a chat model such as local:smollm2 for chat"
            )
        return self._scheduler

    def _embedding_only(self, info: GGUFInfo) -> bool:
        """A model that only embeds: a catalogue embedding entry, or a non-causal encoder."""
        entry = self._ref.entry
        if entry is not None and entry.kind == "embedding":
            return True
        arch = info.architecture or ""
        return info.metadata.get(f"{arch}.attention.causal", True) is False

    @property
    def engine(self) -> LlamaEngine:
        return self._running().engine

    def capabilities(self) -> Capabilities:
        engine = self._scheduler.engine if self._scheduler is not None else None
        n_ctx = engine.n_ctx if engine is not None else None
        entry = self._ref.entry
        embedding_only = self._info is not None and self._embedding_only(self._info)
        if (entry is not None and entry.kind == "embedding") or embedding_only:
            return Capabilities(streaming=False, embeddings=True, accelerator="cpu")
        where = self.placement
        return Capabilities(
            streaming=True,
            tools=True,
            structured_output=True,
            embeddings=True,
            context_length=n_ctx,
            accelerator=where.accelerator if where is not None else "cpu",
            raw_completion=True,
            placement=where,
            thinking=self._reasons(),
            vision=self._mmproj is not None,
            choices=engine.slots if engine is not None else self.options.slots,
        )

    def _reasons(self) -> bool:
        """Whether the model reasons: known once loaded; before, what its entry says."""
        if self._info is not None:
            return self._thinking is not None
        entry = self._ref.entry
        source = self.options.chat_template or (entry.chat_template if entry else None)
        capability = entry is not None and "thinking" in entry.capabilities
        syntax = detect_thinking(source, self._spec, tags=self._tags(), capability=capability)
        return syntax is not None

    def input_limits(self) -> InputLimits | None:
        """What the context window could ever hold, once the model is loaded (else None)."""
        return self._limits

    # -- requests ------------------------------------------------------------------------------

    def prompt_tokens(self, request: ChatRequest) -> list[int]:
        """The request rendered by the model's chat template and tokenized (with the tool
        prompt when tools are constrained); for a raw-prompt request, that text tokenized as
        it is (see :meth:`raw_tokens`)."""
        return self._tokens(request, self._plan(request))

    def tokenize(
        self, text: str, *, add_special: bool = False, parse_special: bool = True
    ) -> list[int]:
        """``text`` as this model's token ids (see :class:`hearth.tokens.Tokenizer`)."""
        if not isinstance(text, str):
            raise InvalidRequestError(f"text must be a string, got {type(text).__name__}")
        return self._running().engine.tokenize(
            text, add_special=add_special, parse_special=parse_special
        )

    def detokenize(self, tokens: Sequence[int]) -> str:
        """The text of ``tokens``; an id outside the vocabulary raises InvalidRequestError."""
        engine = self._running().engine
        return engine.detokenize(check_token_ids(tokens, engine.n_vocab))

    def pieces(self, tokens: Sequence[int]) -> list[bytes]:
        """Each token's bytes (special tokens as their text)."""
        engine = self._running().engine
        return [engine.detokenize_bytes([t]) for t in check_token_ids(tokens, engine.n_vocab)]

    def apply_template(self, request: ChatRequest) -> str:
        """``request``'s messages (and tools) rendered by the model's chat template, ending
        with the assistant's turn opening: the text a chat request's tokens come from."""
        self._admit(request)
        if request.prompt is not None:
            return request.prompt
        return self._render(self._plan(request), request)

    def count_request_tokens(self, request: ChatRequest) -> int:
        """The tokens of ``request``'s prompt as the model reads it: the chat template's
        rendering (with the tool prompt when tools are constrained), or a raw prompt. Errors
        (a template that cannot render it) are raised, unlike ``count_tokens``'s None."""
        self._admit(request)
        return len(self.prompt_tokens(request))

    def _plan(self, request: ChatRequest) -> OutputPlan:
        """Tools and response_format: prompt changes, grammar and tool-call parser."""
        self._running()
        check_request(self._thinking.syntax if self._thinking else None, request, self.name)
        assert self._info is not None and self._template is not None
        return plan_output(
            request,
            template_source=self._template_source(self._info),
            model_name=self.name,
            template_family=self._template.tool_family,
        )

    def raw_tokens(self, text: str) -> list[int]:
        """``text`` tokenized as llama.cpp's server tokenizes a completion prompt: special-token
        text (``<|im_start|>``, ``<bos>``) becomes those tokens, and the model's BOS goes first
        when its vocabulary asks for one (``add_bos``) and the text does not already start
        with it. No chat template, no EOS."""
        engine = self._running().engine
        tokens = engine.tokenize(text, add_special=False)
        if engine.add_bos and engine.bos_id >= 0 and tokens[:1] != [engine.bos_id]:
            tokens.insert(0, engine.bos_id)
        return tokens

    def _tokens(self, request: ChatRequest, plan: OutputPlan) -> list[int]:
        tokens, images = self._prompt(request, plan)
        if images is not None:
            images.close()
        return tokens

    def _prompt(
        self, request: ChatRequest, plan: OutputPlan
    ) -> tuple[list[int], ImagePrompt | None]:
        """The prompt's positions, and its images when it has some (a vision model's)."""
        if request.prompt is not None:
            return self.raw_tokens(request.prompt), None
        engine = self._running().engine
        text = self._render(plan, request)
        has_bos = bool(engine.bos_text) and text.startswith(engine.bos_text)
        add_special = engine.add_bos and not has_bos
        images = request_images(plan.messages) if self._projector is not None else []
        if self._projector is not None and images:
            if request.settings.prompt_logprobs:
                raise UnsupportedFeatureError(
                    "prompt_logprobs with images: a local model gives the log-probabilities "
                    "of text prompts only; leave prompt_logprobs out"
                )
            return tokenize_with_images(self._projector, text, images, add_special=add_special)
        return engine.tokenize(text, add_special=add_special), None

    def _render(self, plan: OutputPlan, request: ChatRequest) -> str:
        """The prompt text: the plan's messages through the chat template, with a reasoning
        model's thinking switch in the template's context and its think block opened (or
        closed) after it."""
        assert self._template is not None
        thinking = self._thinking
        context = thinking.syntax.template_context(request.settings.thinking) if thinking else None
        messages: Sequence[Message] = plan.messages
        if self._projector is not None and request_images(messages):
            messages = marked_messages(messages, self._projector.marker)  # where each image sits
        text = self._template.render(
            messages, add_generation_prompt=True, tools=plan.template_tools, context=context
        )
        if thinking is not None:
            text = thinking.prompt(text, request, self.name)
        return text

    def _admit(self, request: ChatRequest) -> None:
        """What is checked before any template renders: the model is open (loading it), the
        request asks nothing a local model cannot do, and its size fits what the context window
        could ever hold, so a bad or hostile request costs little."""
        if request.extra_body:
            raise UnsupportedFeatureError(
                f"{self.name} is a local model: there is no provider API to pass extra_body "
                f"({', '.join(request.extra_body)}) to; leave it out (sampling settings are "
                "keyword arguments: temperature=, top_k=, …)"
            )
        self._running()
        check_input(request, self._limits)

    def _job(
        self, request: ChatRequest, channel: Channel, plan: OutputPlan | None = None
    ) -> tuple[GenerationJob, OutputPlan]:
        """The job for an admitted ``request`` (:meth:`_admit`) and its plan: the template
        renders (under its budget), the text is tokenized and grammars are compiled, here on the
        caller's thread, so a bad or hostile request fails before anything is queued."""
        plan = plan or self._plan(request)
        tokens, images = self._prompt(request, plan)
        n_ctx = self.engine.n_ctx
        if len(tokens) >= n_ctx:
            if images is not None:
                images.close()
            raise ContextLengthExceededError(len(tokens), n_ctx)
        entry = self._ref.entry
        defaults = entry.sampling if entry is not None else GenerationSettings()
        settings = defaults.merged(request.settings)
        choices = self._choices(request)
        first, *others = (self._constraint(request, plan, settings) for _ in range(choices))
        thinking = self._thinking
        shown = thinking.shown if thinking is not None and thinking.active(request) else None
        job = self._new_job(tokens, settings, channel, first, raw=request.raw, shown=shown)
        job.choices, job.sibling_constraints = choices, tuple(others)
        job.images = images
        return job, plan

    def _constraint(
        self, request: ChatRequest, plan: OutputPlan, settings: GenerationSettings
    ) -> Constraint | None:
        """One answer's constraint: the plan's grammar, behind a reasoning model's thinking
        gate when thinking is on. Each answer of ``n`` gets its own (a matcher holds state)."""
        assert self._constraints is not None
        grammar = plan.grammar
        constraint = self._constraints.compile(grammar, plan.what) if grammar is not None else None
        thinking = self._thinking
        if thinking is None or not thinking.active(request):
            return constraint
        return thinking.gate(settings, constraint, self.engine)

    def _events(self, request: ChatRequest, plan: OutputPlan, used: Usage) -> Transform | None:
        """The transform of ``request``'s events: thinking split out, tool calls parsed, the
        decision step's usage added."""
        transform: Transform | None = plan.events()
        thinking = self._thinking
        if thinking is not None and thinking.active(request):
            assert self._template is not None
            family = plan.parser or self._template.tool_family
            transform = thinking.events(request, transform, family)
        return with_usage(used, transform) if used.total_tokens else transform

    def _choices(self, request: ChatRequest) -> int:
        """How many answers ``request`` asks for (``n``), checked against what this model can
        decode at once."""
        n = request.settings.n or 1
        slots = self.engine.slots
        if n > 1 and request.tools and request.tool_choice != "none":
            raise UnsupportedFeatureError(
                f"n={n} with tools: a local model gives several answers for text only; ask "
                "for one answer (n=1) when tools are offered"
            )
        thinking = self._thinking
        if n > 1 and thinking is not None and thinking.active(request):
            raise UnsupportedFeatureError(
                f"n={n} with thinking on: a reasoning model gives one answer a request while it "
                "thinks; ask for one answer (n=1), or turn thinking off (thinking=False)"
            )
        if n > slots:
            raise InvalidRequestError(
                f"n={n} is more than the {slots} sequences {self.name} decodes at once; ask for "
                f"at most {slots} answers, or load the model with slots={n}"
            )
        return n

    def _new_job(
        self,
        tokens: list[int],
        settings: GenerationSettings,
        channel: Channel,
        constraint: Constraint | None,
        *,
        raw: bool = False,
        shown: Mapping[int, bytes] | None = None,
    ) -> GenerationJob:
        assert self._template is not None
        timeout = self.options.timeout
        hidden = () if raw else self._template.stop_strings
        if self._thinking is not None:  # harmony's thinking ends in an end-of-turn marker
            hidden = tuple(h for h in hidden if h not in self._thinking.syntax.markers)
        return GenerationJob(
            prompt=tokens,
            settings=settings,
            channel=channel,
            shown=shown or {},
            hidden_stop=hidden,
            deadline=None if timeout is None else time.monotonic() + timeout,
            model_name=self.name,
            gguf_name=self._info.name if self._info is not None else None,
            constraint=constraint,
        )

    # -- the decision step (tools under "auto" on a model with no tool syntax of its own) -----

    def _decision_job(self, decision: Decision, channel: Channel) -> GenerationJob:
        assert self._constraints is not None
        regex = OutputFormat("regex", grammar=decision.regex)
        constraint = self._constraints.compile(output_grammar(regex), "decision step")
        quiet = GenerationSettings(thinking=False if self._can_stop_thinking() else None)
        asked = ChatRequest(decision.messages, settings=quiet)
        tokens = self._tokens(asked, OutputPlan(decision.messages))
        return self._new_job(tokens, DECISION_SETTINGS, channel, constraint)

    def _can_stop_thinking(self) -> bool:
        return self._thinking is not None and self._thinking.syntax.off_switch is not None

    def _decide(self, request: ChatRequest, plan: OutputPlan) -> tuple[OutputPlan, Usage]:
        """Run ``plan``'s decision step, if it has one; the reply's plan and the step's usage."""
        if plan.decision is None:
            return plan, Usage()
        channel = SyncChannel()
        job = self._decision_job(plan.decision, channel)
        self._running().submit(job)
        reader = DecisionReader()
        try:
            while not reader.add(channel.get()):
                pass
        finally:
            job.cancel()
        return decided(request, plan, call=plan.decision.calls(reader.text)), reader.usage

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        channel = SyncChannel()
        self._admit(request)
        plan, used = self._decide(request, self._plan(request))
        job, plan = self._job(request, channel, plan)
        self._running().submit(job, wait=self.options.queue_timeout)
        return _EventStream(job, channel, self._events(request, plan, used))

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return _async_events(self, request)

    def unload(self) -> None:
        """Free the model's memory; the next request (or :meth:`load`) loads it again. Requests
        still running on it fail, so the caller unloads only an idle model (``hearth serve``
        does: see ``hearth.server.residency``)."""
        self.close_embedder()
        with self._lock:
            if self._scheduler is not None:
                self._scheduler.close()
                self._scheduler = None
            if self._constraints is not None:
                self._constraints.close()
                self._constraints = None

    def window(self) -> int:
        """The context window the model has, or will have when it loads."""
        if self._scheduler is not None:
            return self._scheduler.engine.n_ctx
        trained = self.trained_context()
        if self.options.n_ctx is not None:
            return self.options.n_ctx
        return min(trained, DEFAULT_N_CTX) if trained else DEFAULT_N_CTX

    def trained_context(self) -> int | None:
        """The context the model was trained for (its GGUF header's), None if it does not say."""
        info = self._info if self._info is not None else read_gguf(self.fetch())
        return info.context_length

    def resize(self, n_ctx: int) -> None:
        """Load with a window of ``n_ctx`` tokens from now on; the model must be unloaded."""
        trained = self.trained_context()
        if trained is not None and n_ctx > trained:
            raise InvalidRequestError(
                f"num_ctx: {n_ctx} is more than the {trained} tokens {self.name} was trained on; "
                f"ask for at most {trained}"
            )
        with self._lock:
            if self._scheduler is not None:
                raise InvalidRequestError(f"{self.name} is loaded: unload it before resizing")
            self.options = replace(self.options, n_ctx=n_ctx)

    def memory_estimate(self) -> int:
        """Bytes the model (and its draft model) takes once loaded: llama.cpp's figures when it
        is, else its file's size (the weights; the KV cache comes on top)."""
        scheduler = self._scheduler
        draft = None if scheduler is None else scheduler.draft_model
        own = _estimate(self._ref, self.placement)
        if self._draft_ref is None:
            return own
        return own + _estimate(self._draft_ref, None if draft is None else draft.engine.placement)

    def _channel(self) -> AsyncChannel:
        """A channel to the running loop; the loop's channels share one waker, so a decode step
        wakes the loop once for all of its streams."""
        channel = AsyncChannel(self._waker)
        self._waker = channel.waker
        return channel

    def close(self) -> None:
        """Free the model; using it afterwards raises ModelClosedError (it is not reloaded)."""
        with self._lock:
            self._closed = True
        self.unload()


_Transform = Callable[[StreamEvent], list[StreamEvent]]


class _EventStream(Iterator[StreamEvent]):
    """The events of one submitted job. Closing it, or dropping it unread, cancels the job."""

    def __init__(
        self, job: GenerationJob, channel: SyncChannel, transform: _Transform | None = None
    ) -> None:
        self._job = job
        self._channel = channel
        self._finished = False
        self._transform = transform
        self._ready: deque[StreamEvent] = deque()

    def __next__(self) -> StreamEvent:
        while not self._ready:
            if self._finished:
                raise StopIteration
            item = self._channel.get()
            if isinstance(item, BaseException):
                self.close()
                raise item
            if isinstance(item, Done):
                self._finished = True
            self._ready.extend(self._transform(item) if self._transform else (item,))
        return self._ready.popleft()

    def close(self) -> None:
        self._finished = True
        self._job.cancel()

    def __del__(self) -> None:
        self._job.cancel()


async def _async_events(backend: LocalBackend, request: ChatRequest) -> AsyncIterator[StreamEvent]:
    import anyio.to_thread

    if backend._scheduler is None:  # loading takes seconds: keep it off the event loop
        await anyio.to_thread.run_sync(backend.load)
    channel = backend._channel()
    # Checking, templating, tokenizing and compiling a grammar take time in proportion to the
    # request: never on the event loop. Abandoned if the caller is cancelled; the template's
    # budget and the input limits bound what the thread goes on doing.
    await anyio.to_thread.run_sync(backend._admit, request, abandon_on_cancel=True)
    planned = await anyio.to_thread.run_sync(backend._plan, request, abandon_on_cancel=True)
    used = Usage()
    if planned.decision is not None:
        planned, used = await _adecide(backend, request, planned)
    job, plan = await anyio.to_thread.run_sync(
        backend._job, request, channel, planned, abandon_on_cancel=True
    )
    transform = backend._events(request, plan, used)
    scheduler, wait = backend._running(), backend.options.queue_timeout
    try:  # a job queued after its caller left is cancelled too
        if wait > 0:  # waiting for a place blocks: not on the event loop
            await anyio.to_thread.run_sync(lambda: scheduler.submit(job, wait=wait))
        else:
            scheduler.submit(job)
        while True:
            item = await channel.get_merged()  # a backlog of tokens leaves as one delta
            if isinstance(item, BaseException):
                raise item
            for event in transform(item) if transform else (item,):
                yield event
            if isinstance(item, Done):
                return
    finally:
        job.cancel()


async def _adecide(
    backend: LocalBackend, request: ChatRequest, plan: OutputPlan
) -> tuple[OutputPlan, Usage]:
    """The async twin of :meth:`LocalBackend._decide`."""
    import anyio.to_thread

    assert plan.decision is not None
    channel = backend._channel()
    job = await anyio.to_thread.run_sync(backend._decision_job, plan.decision, channel)
    backend._running().submit(job)
    reader = DecisionReader()
    try:
        while not reader.add(await channel.get()):
            pass
    finally:
        job.cancel()
    call = plan.decision.calls(reader.text)
    reply = await anyio.to_thread.run_sync(lambda: decided(request, plan, call=call))
    return reply, reader.usage


def _estimate(ref: LocalModelRef, where: Placement | None) -> int:
    """Bytes a model takes: llama.cpp's figures once loaded (``where``), else its file's size."""
    if where is not None:
        return where.memory_bytes
    if ref.entry is not None and ref.entry.size is not None:
        return ref.entry.size
    return ref.path.stat().st_size if ref.path.is_file() else 0


def create_backend(
    model: str, /, *, catalog: Catalog | None = None, **options: object
) -> LocalBackend:
    """Registry factory for ``local:MODEL``. ``catalog``: the names ``MODEL`` may be (the
    registry passes the built-in ones plus the config's; None: the built-in ones)."""
    try:
        opts = LocalOptions(**options)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InvalidRequestError(f"unknown option for a local model: {exc}") from None
    return LocalBackend(model, opts, catalog=catalog)


def create_hf_backend(
    model: str, /, *, catalog: Catalog | None = None, **options: object
) -> LocalBackend:
    """Registry factory for ``hf:ORG/REPO/FILE.gguf``: the same as ``local:hf:…``."""
    return create_backend(f"hf:{model}", catalog=catalog, **options)
