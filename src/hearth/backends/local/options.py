"""Options of a local model (``hearth.model("local:…", **options)``), checked when built."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hearth.accelerator import (
    AcceleratorOptions,
    CacheType,
    FlashAttn,
    GpuLayers,
    SplitMode,
)
from hearth.backends.local.embed import POOLING_CODES, Pooling
from hearth.backends.local.engine import DEFAULT_SLOTS
from hearth.backends.local.scheduler import DEFAULT_MAX_QUEUE
from hearth.backends.local.speculation import SPECULATIVE_MODES, SpeculativeMode
from hearth.errors import InvalidRequestError

DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """Options of ``hearth.model("local:…", **options)``.

    * ``n_ctx``: context window in tokens (default min(trained length, 8192));
    * ``n_threads``: CPU threads (default: every core this process may use);
    * ``n_batch``: prompt tokens evaluated per step;
    * ``max_queue``: requests that may wait for a free slot before new ones are refused;
    * ``queue_timeout``: seconds a new request waits for a place in a full queue before it is
      refused with OverloadedError (0, the default: refused at once; backpressure by choice,
      within ``timeout``);
    * ``slots``: requests decoded together in one batch (continuous batching; default 8);
    * ``prefix_cache``: tokens of finished requests kept for reuse by later prompts that start
      the same way (0: off; default: half the context, if reuse cannot change outputs);
    * ``timeout``: seconds a request may take, queueing included (None: no deadline);
    * ``speculative``: ``"ngram"`` (the default) drafts tokens by prompt lookup and verifies
      them in the same decode (greedy output unchanged; see
      :mod:`hearth.backends.local.speculation`), ``"off"`` does not;
    * ``draft_model``: a smaller model with the same vocabulary (a catalogue name, a ``.gguf``
      path or ``hf:…``) that drafts instead of prompt lookup (see
      :mod:`hearth.backends.local.draft_model`; default: the catalogue entry's, else none);
    * ``verbose``: show llama.cpp's own log on stderr;
    * ``progress``: show a progress bar when a model is pulled (default: when stderr is a TTY);
    * ``sha256``: the file's expected SHA-256, checked before it is loaded (for a path to a
      ``.gguf`` file, which has no catalogue entry to say it; a named model's own checksum
      must agree);
    * ``pooling``: how embeddings pool (``mean``, ``cls`` or ``last``; default: the file's);
    * ``embed_prefixes``: task name → text put before each input to embed, replacing the
      model family's (see :mod:`hearth.embeddings`);
    * ``gpu_layers``, ``main_gpu``, ``split_mode``, ``tensor_split``, ``flash_attn``,
      ``offload_kqv``, ``use_mmap``, ``use_mlock``, ``cache_type_k``, ``cache_type_v``: where
      the model and its KV cache go (:class:`hearth.accelerator.AcceleratorOptions`; None: the
      catalogue entry's, else llama.cpp's default);
    * ``chat_template``: a Jinja chat template used instead of the model's own (over the
      catalogue entry's ``chat_template``);
    * ``thinking_tags``: ``(open, close)``, the tags the model thinks in, whatever its template
      says; ``()``: it does not reason (see :mod:`hearth.backends.local.reasoning`);
    * ``mmproj``: a vision model's projector GGUF (a path or ``hf:ORG/REPO/FILE.gguf``; over the
      catalogue entry's), so the model takes images; ``mmproj_sha256``: its expected SHA-256;
    * ``thinking_budget_message``: text forced before the closing tag when a request's
      ``thinking_budget`` is spent (default none: the tag alone), e.g. "\n\nTime is up; I
      answer now.\n".
    """

    n_ctx: int | None = None
    n_threads: int | None = None
    n_batch: int = 512
    max_queue: int = DEFAULT_MAX_QUEUE
    queue_timeout: float = 0.0
    slots: int = DEFAULT_SLOTS
    prefix_cache: int | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    speculative: SpeculativeMode = "ngram"
    draft_model: str | None = None
    verbose: bool = False
    progress: bool | None = None
    sha256: str | None = None
    pooling: Pooling | None = None
    embed_prefixes: Mapping[str, str] | None = None
    chat_template: str | None = None
    thinking_tags: Sequence[str] | None = None
    thinking_budget_message: str = ""
    mmproj: str | None = None
    mmproj_sha256: str | None = None
    gpu_layers: GpuLayers | None = None
    main_gpu: int | None = None
    split_mode: SplitMode | None = None
    tensor_split: tuple[float, ...] | None = None
    flash_attn: FlashAttn | None = None
    offload_kqv: bool | None = None
    use_mmap: bool | None = None
    use_mlock: bool | None = None
    cache_type_k: CacheType | None = None
    cache_type_v: CacheType | None = None

    def accelerator(self) -> AcceleratorOptions:
        """The accelerator options given (checked: a bad one is an InvalidRequestError)."""
        return AcceleratorOptions(
            gpu_layers=self.gpu_layers, main_gpu=self.main_gpu, split_mode=self.split_mode,
            tensor_split=self.tensor_split, flash_attn=self.flash_attn,
            offload_kqv=self.offload_kqv, use_mmap=self.use_mmap, use_mlock=self.use_mlock,
            cache_type_k=self.cache_type_k, cache_type_v=self.cache_type_v,
        )  # fmt: skip

    def __post_init__(self) -> None:
        self.accelerator()
        if self.thinking_tags is not None:
            tags = tuple(self.thinking_tags)
            if len(tags) not in (0, 2) or (tags and (not all(tags) or tags[0] == tags[1])):
                raise InvalidRequestError(
                    "thinking_tags must be () (not a reasoning model) or (open, close), two "
                    f"different non-empty tags such as ('<think>', '</think>'), got {tags!r}"
                )
            object.__setattr__(self, "thinking_tags", tags)
        if self.chat_template is not None and not self.chat_template.strip():
            raise InvalidRequestError("chat_template is empty; give the Jinja template's text")
        if self.max_queue < 1:
            raise InvalidRequestError(f"max_queue must be at least 1, got {self.max_queue}")
        if self.prefix_cache is not None and self.prefix_cache < 0:
            raise InvalidRequestError(
                f"prefix_cache must be a number of tokens >= 0, got {self.prefix_cache}"
            )
        if self.speculative not in SPECULATIVE_MODES:
            raise InvalidRequestError(
                f"speculative must be one of {', '.join(SPECULATIVE_MODES)}, "
                f"got {self.speculative!r}"
            )
        self._check_draft_model()
        if self.timeout is not None and not self.timeout > 0:
            raise InvalidRequestError(f"timeout must be a positive number, got {self.timeout}")
        if not self.queue_timeout >= 0:
            raise InvalidRequestError(
                f"queue_timeout must be 0 or more seconds, got {self.queue_timeout}"
            )
        if self.pooling is not None and self.pooling not in POOLING_CODES:
            raise InvalidRequestError(
                f"pooling must be one of {', '.join(POOLING_CODES)}, got {self.pooling!r}"
            )

    def _check_draft_model(self) -> None:
        draft = self.draft_model
        if draft is None:
            return
        if not isinstance(draft, str) or not draft.strip():
            raise InvalidRequestError(
                "draft_model must name a model (a catalogue name, a .gguf path or "
                f"hf:ORG/REPO/FILE.gguf), got {draft!r}"
            )
        if self.speculative == "off":
            raise InvalidRequestError(
                f"draft_model={draft!r} drafts for speculative decoding, which "
                "speculative='off' turns off; give one or the other"
            )
        object.__setattr__(self, "draft_model", draft.strip().removeprefix("local:"))
