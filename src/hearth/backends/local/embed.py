"""Local embeddings: a GGUF model in its own llama.cpp context with embeddings on.

:class:`LocalEmbedder` loads the model file a second time (llama.cpp maps it, so the weights'
pages are shared with a generation engine on the same file) and creates a context that outputs
pooled embeddings. It never touches a generation context: a chat model (``local:smollm2``) can
embed while it generates.

* Pooling comes from the GGUF (``<arch>.pooling_type``) unless configured: ``mean``, ``cls`` or
  ``last``. A model with none (a chat model) pools ``last`` if causal, else ``mean``.
* Inputs are tokenized, sorted by length and packed many to a decode (one sequence id each) up to
  ``n_batch`` tokens and ``max_sequences`` inputs; an input longer than ``n_batch`` gets a
  decode of its own. The vectors come back in input order. Every token of a decode attends
  over the whole decode (masked by sequence), so a small ``n_batch`` wastes less attention work;
  the context is still sized for the longest input allowed.
* An input longer than ``max_tokens`` (per input: the configured ``n_ctx``, else the catalogue's
  context length, else min(trained length, 2048)) is a :class:`ContextLengthExceededError`,
  unless ``truncate=True``: then its first tokens are kept, and the closing separator token an
  encoder adds (``[SEP]``) stays at the end, as Hugging Face tokenizers truncate.
* ``dimensions`` keeps the first values (Matryoshka), then the vector is L2-normalised (unless
  ``normalize=False``).

Parallelism. The embedder holds ``workers`` contexts on the one loaded model (default: one per
thread). A call with several decodes runs them on all contexts at once, one thread each (ctypes
releases the GIL), so no thread ever waits at a per-operation barrier for another; a call with a
single decode runs it on one context with every thread.

Thread-safe: one lock serializes calls; tokenizing is done under it too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import llama_cpp.llama_cpp as lib

from hearth.accelerator import AcceleratorOptions
from hearth.backends.local import offload
from hearth.backends.local.engine import EngineError, _LlamaLog, block_count, default_threads
from hearth.catalog.gguf_file import GGUFInfo, read_gguf
from hearth.embeddings import (
    Embeddings,
    check_dimensions,
    family_of,
    finish_vector,
    task_prefix,
)
from hearth.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
    ModelClosedError,
    ModelLoadError,
)
from hearth.events import Usage
from hearth.request import EmbedRequest

Pooling = Literal["mean", "cls", "last"]
POOLING_CODES: Mapping[Pooling, int] = {
    "mean": lib.LLAMA_POOLING_TYPE_MEAN,
    "cls": lib.LLAMA_POOLING_TYPE_CLS,
    "last": lib.LLAMA_POOLING_TYPE_LAST,
}
DEFAULT_MAX_TOKENS = 2048
DEFAULT_N_BATCH = 256
DEFAULT_MAX_SEQUENCES = 64
MAX_SEQUENCES = 256  # llama.cpp's LLAMA_MAX_SEQ


@dataclass(frozen=True, slots=True)
class EmbedConfig:
    """How to run a local embedding model.

    * ``n_ctx``: the most tokens one input may have (default: see the module docstring);
    * ``n_threads``: CPU threads (default: every core this process may use);
    * ``n_batch``: tokens packed into one decode (a longer input is decoded alone);
    * ``max_sequences``: inputs per decode (at most 256);
    * ``workers``: contexts that decode in parallel, one thread each (default: ``n_threads``);
    * ``pooling``: ``mean``, ``cls`` or ``last``; None reads the model's;
    * ``prefixes``: task name → text put before each input, replacing the model family's
      (EmbeddingGemma's ``task: search result | query: `` …);
    * ``verbose``: show llama.cpp's log on stderr;
    * ``accelerator``: GPU offload (``gpu_layers`` …), ``flash_attn``, ``offload_kqv``, mmap and
      mlock (the KV cache types do not apply: embedding keeps no cache between inputs).
    """

    n_ctx: int | None = None
    n_threads: int | None = None
    n_batch: int = DEFAULT_N_BATCH
    max_sequences: int = DEFAULT_MAX_SEQUENCES
    workers: int | None = None
    pooling: Pooling | None = None
    prefixes: Mapping[str, str] | None = None
    verbose: bool = False
    accelerator: AcceleratorOptions = field(default_factory=AcceleratorOptions)

    def __post_init__(self) -> None:
        if self.n_ctx is not None and self.n_ctx < 8:
            raise InvalidRequestError(f"n_ctx must be at least 8, got {self.n_ctx}")
        if self.n_threads is not None and self.n_threads < 1:
            raise InvalidRequestError(f"n_threads must be at least 1, got {self.n_threads}")
        if not 1 <= self.n_batch <= 65536:
            raise InvalidRequestError(f"n_batch must be between 1 and 65536, got {self.n_batch}")
        if not 1 <= self.max_sequences <= MAX_SEQUENCES:
            raise InvalidRequestError(
                f"max_sequences must be between 1 and {MAX_SEQUENCES}, got {self.max_sequences}"
            )
        if self.workers is not None and not 1 <= self.workers <= 64:
            raise InvalidRequestError(f"workers must be between 1 and 64, got {self.workers}")
        if self.pooling is not None and self.pooling not in POOLING_CODES:
            raise InvalidRequestError(
                f"pooling must be one of {', '.join(POOLING_CODES)}, got {self.pooling!r}"
            )


def model_pooling(info: GGUFInfo) -> tuple[Pooling, bool]:
    """The pooling the GGUF asks for (or the default for its kind), and whether it is causal."""
    arch = info.architecture or ""
    causal = info.metadata.get(f"{arch}.attention.causal", True) is not False
    code = info.metadata.get(f"{arch}.pooling_type")
    by_code = {code_: name for name, code_ in POOLING_CODES.items()}
    if isinstance(code, int) and code in by_code:
        return by_code[code], causal
    return ("last" if causal else "mean"), causal


def pack(lengths: Sequence[int], max_tokens: int, max_sequences: int) -> list[list[int]]:
    """Input indices grouped into decodes: longest first, each group at most ``max_tokens``
    tokens and ``max_sequences`` inputs; an input longer than ``max_tokens`` is a group alone."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index in order:
        if current and (used + lengths[index] > max_tokens or len(current) >= max_sequences):
            groups.append(current)
            current, used = [], 0
        current.append(index)
        used += lengths[index]
    if current:
        groups.append(current)
    return groups


class LocalEmbedder:
    """A GGUF model loaded for embedding. Close it to free the model and context."""

    def __init__(
        self,
        path: Path,
        config: EmbedConfig | None = None,
        *,
        name: str | None = None,
        context_length: int | None = None,
    ) -> None:
        self.path = path
        self.config = config or EmbedConfig()
        self.name = name or f"local:{path.name}"
        info = read_gguf(path)
        default_pooling, self.causal = model_pooling(info)
        self.pooling: Pooling = self.config.pooling or default_pooling
        self.model_name = info.name
        self.family = family_of(self.name + " " + (info.name or ""), info.architecture)
        self._log = _LlamaLog.install(self.config.verbose)
        self._lock = threading.Lock()
        self._model = self._load(path)
        self._vocab = lib.llama_model_get_vocab(self._model)
        n_train = int(lib.llama_model_n_ctx_train(self._model))
        self.max_tokens = self._max_tokens(n_train, context_length)
        self.n_batch = max(self.config.n_batch, self.max_tokens)  # the context's batch
        self.dimensions = self._n_embd()
        self.threads = self.config.n_threads or default_threads()
        self._slots: list[_Slot] = []
        self._pool: ThreadPoolExecutor | None = None
        try:
            for _ in range(self.config.workers or self.threads):
                self._slots.append(_Slot(self._new_context(), self.n_batch))
        except BaseException:
            self.close()
            raise
        self._add_sep = bool(lib.llama_vocab_get_add_sep(self._vocab))
        self._fallback_token = self._first_valid(
            lib.llama_vocab_bos(self._vocab), lib.llama_vocab_eos(self._vocab)
        )

    # -- loading -------------------------------------------------------------------------------

    def _load(self, path: Path) -> Any:
        n_layer = block_count(path) if offload.gpu_offload_supported() else 0
        params = offload.model_params(self.config.accelerator, n_layer, path.stat().st_size)
        model = lib.llama_model_load_from_file(str(path).encode(), params.native)
        if not model:
            detail = self._log.last_error() or "llama.cpp could not load it"
            raise ModelLoadError(f"failed to load {path} for embedding: {detail}")
        return model

    def _max_tokens(self, n_train: int, context_length: int | None) -> int:
        wanted = self.config.n_ctx or context_length
        if wanted is None:
            return min(n_train, DEFAULT_MAX_TOKENS) if n_train > 0 else DEFAULT_MAX_TOKENS
        if n_train > 0 and wanted > n_train:
            raise InvalidRequestError(
                f"n_ctx={wanted} is more than the {n_train} tokens {self.path.name} was trained "
                f"on; use at most {n_train}"
            )
        return wanted

    def _n_embd(self) -> int:
        out = int(lib.llama_model_n_embd_out(self._model))
        return out if out > 0 else int(lib.llama_model_n_embd(self._model))

    def _new_context(self) -> Any:
        params = lib.llama_context_default_params()
        params.n_ctx = self.n_batch
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch  # an input must fit one ubatch to be pooled whole
        params.n_seq_max = self.config.max_sequences
        params.kv_unified = True
        params.embeddings = True
        params.pooling_type = POOLING_CODES[self.pooling]
        params.n_threads = self.threads
        params.n_threads_batch = self.threads
        params.no_perf = True
        accel = self.config.accelerator
        if accel.flash_attn is not None:
            params.flash_attn_type = offload.FLASH_CODES[accel.flash_attn]
        if accel.offload_kqv is not None:
            params.offload_kqv = accel.offload_kqv
        ctx = lib.llama_init_from_model(self._model, params)
        if not ctx:
            detail = self._log.last_error() or "out of memory?"
            raise ModelLoadError(f"failed to create an embedding context for {self.path}: {detail}")
        return ctx

    def _first_valid(self, *tokens: int) -> int | None:
        for token in tokens:
            if token >= 0:
                return int(token)
        return None

    def close(self) -> None:
        """Free the context and the model. The embedder is unusable afterwards."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            for slot in self._slots:
                slot.close()
            self._slots = []
            if getattr(self, "_model", None):
                lib.llama_model_free(self._model)
                self._model = None

    def __enter__(self) -> LocalEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- embedding -----------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        """``text`` as the model sees it: special tokens added (``[CLS] … [SEP]``); special
        token text in the input (``[SEP]``) is parsed as the token, as Hugging Face
        tokenizers do."""
        data = text.encode("utf-8")
        capacity = len(data) + 16
        buf = (lib.llama_token * capacity)()
        n = lib.llama_tokenize(self._vocab, data, len(data), buf, capacity, True, True)
        if n < 0:
            capacity = -n
            buf = (lib.llama_token * capacity)()
            n = lib.llama_tokenize(self._vocab, data, len(data), buf, capacity, True, True)
        if n < 0:
            raise EngineError(f"tokenization failed ({n})")
        tokens = list(buf[:n])
        if not tokens and self._fallback_token is not None:
            tokens = [self._fallback_token]  # "" on a model that adds no special token
        return tokens

    def _fit(self, index: int, tokens: list[int], truncate: bool) -> list[int]:
        limit = self.max_tokens
        if len(tokens) <= limit:
            return tokens
        if not truncate:
            raise ContextLengthExceededError(
                len(tokens),
                limit,
                detail=f"(embed input {index}; pass truncate=True to embed its first {limit} "
                "tokens instead)",
            )
        tail = tokens[-1:] if self._add_sep else []
        return tokens[: limit - len(tail)] + tail

    def embed(self, request: EmbedRequest) -> Embeddings:
        """One vector per text, in order. See the module docstring for the rules."""
        check_dimensions(request.dimensions, self.dimensions)
        prefix = task_prefix(request.task, self.family, self.config.prefixes)
        items, truncate = request.texts, request.truncate
        with self._lock:
            if not self._slots:
                raise EngineError(f"{self.name}'s embedder is closed")
            tokens = [
                self._fit(i, self.tokenize(prefix + text), truncate) for i, text in enumerate(items)
            ]
            raw = self._run(tokens)
        vectors = [finish_vector(v, request.dimensions, request.normalize) for v in raw]
        usage = Usage(input_tokens=sum(map(len, tokens)))
        return Embeddings(vectors, usage, self.name, model_name=self.model_name)

    def _run(self, tokens: list[list[int]]) -> list[list[float]]:
        out: list[list[float]] = [[] for _ in tokens]
        groups = pack([len(t) for t in tokens], self.config.n_batch, self.config.max_sequences)
        slots = self._slots[: len(groups)]
        if len(slots) == 1:
            slots[0].set_threads(self.threads)
            self._work(slots[0], iter(groups), tokens, out)
            return out
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(self._slots), thread_name_prefix="hearth-embed")
        shared = _Locked(iter(groups))
        for slot in slots:
            slot.set_threads(1)
        futures = [self._pool.submit(self._work, slot, shared, tokens, out) for slot in slots]
        wait(futures)  # every worker is done before the slots are used again
        for future in futures:
            future.result()  # re-raises a worker's error
        return out

    def _work(
        self,
        slot: _Slot,
        groups: Iterator[list[int]],
        tokens: list[list[int]],
        out: list[list[float]],
    ) -> None:
        for group in groups:
            slot.decode([tokens[i] for i in group])
            for seq, index in enumerate(group):
                out[index] = slot.pooled(seq, self.dimensions, self.name)
            slot.clear()


class _Slot:
    """One embedding context on the shared model, with its batch. Used by one thread at a time."""

    def __init__(self, ctx: Any, n_batch: int) -> None:
        self.ctx = ctx
        self.batch = lib.llama_batch_init(n_batch, 0, 1)
        self.memory = lib.llama_get_memory(ctx)
        self.threads = 0

    def set_threads(self, n: int) -> None:
        if n != self.threads:
            lib.llama_set_n_threads(self.ctx, n, n)
            self.threads = n

    def decode(self, sequences: list[list[int]]) -> None:
        batch = self.batch
        i = 0
        for seq, tokens in enumerate(sequences):
            for pos, token in enumerate(tokens):
                batch.token[i] = token
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq
                batch.logits[i] = 1
                i += 1
        batch.n_tokens = i
        rc = lib.llama_decode(self.ctx, batch)
        if rc != 0:
            self.clear()
            raise EngineError(f"llama_decode failed with code {rc} while embedding")

    def pooled(self, seq: int, dimensions: int, name: str) -> list[float]:
        pointer = lib.llama_get_embeddings_seq(self.ctx, seq)
        if not pointer:
            raise EngineError(f"llama.cpp returned no pooled embedding for {name}")
        return list(pointer[:dimensions])

    def clear(self) -> None:
        if self.memory:
            lib.llama_memory_clear(self.memory, True)

    def close(self) -> None:
        if self.ctx:
            lib.llama_batch_free(self.batch)
            lib.llama_free(self.ctx)
            self.ctx = None


class _Locked(Iterator[list[int]]):
    """An iterator several threads may draw from."""

    def __init__(self, inner: Iterator[list[int]]) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def __next__(self) -> list[int]:
        with self._lock:
            return next(self._inner)


class LocalEmbedding:
    """``embed`` / ``aembed`` for :class:`~hearth.backends.local.backend.LocalBackend`, mixed in
    ahead of its base. The embedder is created on first use, from the backend's verified file
    (catalogue models are pulled, and a BERT checkpoint converted, first) and options:
    ``n_ctx``, ``n_threads``, ``verbose``, and, when the options have them, ``pooling`` and
    ``embed_prefixes``. :meth:`close_embedder` frees it (the backend's ``close`` calls it)."""

    _embedder: LocalEmbedder | None = None

    def _embedding_engine(self) -> LocalEmbedder:
        with _CREATE_LOCK:
            if self._embedder is None:
                backend: Any = self
                if getattr(backend, "_closed", False):
                    raise ModelClosedError(backend.name)
                options = backend.options
                entry = backend._ref.entry
                config = EmbedConfig(
                    n_ctx=options.n_ctx,
                    n_threads=options.n_threads,
                    pooling=getattr(options, "pooling", None),
                    prefixes=getattr(options, "embed_prefixes", None),
                    verbose=options.verbose,
                    accelerator=backend.accelerator_options(),
                )
                self._embedder = LocalEmbedder(
                    backend.fetch(),
                    config,
                    name=backend.name,
                    context_length=entry.context_length if entry is not None else None,
                )
            return self._embedder

    def embed(self, request: EmbedRequest) -> Embeddings:
        return self._embedding_engine().embed(request)

    async def aembed(self, request: EmbedRequest) -> Embeddings:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.embed, request)

    def close_embedder(self) -> None:
        with _CREATE_LOCK:
            embedder, self._embedder = self._embedder, None
        if embedder is not None:
            embedder.close()


_CREATE_LOCK = threading.Lock()
