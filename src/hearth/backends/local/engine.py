"""One llama.cpp model and context, driven through llama-cpp-python's low-level bindings.

:class:`LlamaEngine` is *not* thread-safe: the scheduler's worker thread is its only user, except
for :meth:`LlamaEngine.tokenize`, which reads only the (immutable) vocabulary and is guarded by its
own lock so callers can tokenize while the worker decodes.

Sampling runs in llama.cpp's native sampler chain (:mod:`hearth.backends.local.sampler`) and
token pieces are cached, so the per-token
Python work is a handful of ctypes calls: this is what lets hearth decode at least as fast as
llama-cpp-python's own ``Llama`` class, which copies the whole logits row into numpy every token.

The context holds ``slots`` sequences in one *unified* KV cache of ``n_ctx`` cells: each sequence
may grow to the whole window, they share the cells, and copying a prefix from one sequence to
another (:meth:`LlamaEngine.seq_copy`) only tags existing cells, so a shared prefix costs its KV
once. :meth:`LlamaEngine.seq_save` and :meth:`LlamaEngine.seq_restore` move one sequence's KV to
host memory and back. The scheduler decodes every running sequence together, one
:class:`~hearth.backends.local.batch.TokenBatch` per step.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp.llama_cpp as lib

from hearth.accelerator import AcceleratorOptions, Placement
from hearth.backends.local import offload
from hearth.backends.local.batch import TokenBatch
from hearth.backends.local.load_report import read_load_log
from hearth.backends.local.sampler import Sampler
from hearth.errors import HearthError, InvalidRequestError, ModelLoadError
from hearth.settings import GenerationSettings

DEFAULT_N_CTX = 8192
DEFAULT_N_BATCH = 512
DEFAULT_SLOTS = 8
MAX_SLOTS = 32


class EngineError(HearthError):
    """llama.cpp failed while running a loaded model."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How to load a model. ``n_ctx=None`` uses min(trained length, 8192). ``slots`` is how many
    sequences the context holds at once (running requests plus cached prefixes).
    ``accelerator``: GPU offload, flash attention and KV cache types."""

    n_ctx: int | None = None
    n_threads: int | None = None
    n_batch: int = DEFAULT_N_BATCH
    slots: int = DEFAULT_SLOTS
    verbose: bool = False
    accelerator: AcceleratorOptions = field(default_factory=AcceleratorOptions)

    def __post_init__(self) -> None:
        if self.n_ctx is not None and self.n_ctx < 16:
            raise InvalidRequestError(f"n_ctx must be at least 16, got {self.n_ctx}")
        if self.n_threads is not None and self.n_threads < 1:
            raise InvalidRequestError(f"n_threads must be at least 1, got {self.n_threads}")
        if not 1 <= self.n_batch <= 8192:
            raise InvalidRequestError(f"n_batch must be between 1 and 8192, got {self.n_batch}")
        if not 1 <= self.slots <= MAX_SLOTS:
            raise InvalidRequestError(f"slots must be between 1 and {MAX_SLOTS}, got {self.slots}")
        if self.n_batch <= self.slots:
            raise InvalidRequestError(
                f"n_batch ({self.n_batch}) must be larger than slots ({self.slots}): every running "
                "request puts a token in each batch"
            )


def default_threads() -> int:
    """One thread per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def block_count(path: Path) -> int:
    """The model's layer count from its GGUF header (0 when it does not say)."""
    from hearth.catalog.gguf_file import read_gguf

    info = read_gguf(path)
    count = info.metadata.get(f"{info.architecture or ''}.block_count")
    return count if isinstance(count, int) else 0


class _LlamaLog:
    """Routes llama.cpp's log lines: kept in a small ring (to explain load failures), and printed
    to stderr only when verbose. llama.cpp's logger is process-wide, so there is one of these."""

    _lock = threading.Lock()
    _load_lock = threading.Lock()
    _instance: _LlamaLog | None = None

    def __init__(self) -> None:
        self.verbose = False
        self.recent: deque[str] = deque(maxlen=32)
        self._captured: list[str] | None = None
        self.callback = lib.llama_log_callback(self._on_log)
        lib.llama_log_set(self.callback, ctypes.c_void_p(0))

    @classmethod
    def install(cls, verbose: bool) -> _LlamaLog:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
                lib.llama_backend_init()
            cls._instance.verbose = cls._instance.verbose or verbose
            return cls._instance

    def _on_log(self, level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", errors="replace")
        if line.strip():
            self.recent.append(line.rstrip())
            captured = self._captured
            if captured is not None:
                captured.append(line.rstrip())
        if self.verbose:
            os.write(2, text)

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        """The lines llama.cpp logs inside the block (its figures on a load: layers offloaded,
        buffer sizes). One load at a time is captured, so loads in other threads wait."""
        with self._load_lock:
            lines: list[str] = []
            self._captured = lines
            try:
                yield lines
            finally:
                self._captured = None

    def last_error(self) -> str:
        for line in reversed(self.recent):
            if "error" in line.lower() or "failed" in line.lower():
                return line.strip()
        return ""


class LlamaEngine:
    """A loaded GGUF model with one llama.cpp context of ``config.slots`` sequences."""

    def __init__(self, path: Path, config: EngineConfig) -> None:
        self.path = path
        self.config = config
        self._log = _LlamaLog.install(config.verbose)
        with self._log.capture() as lines:
            self._model = self._load_model(path)
            self._vocab = lib.llama_model_get_vocab(self._model)
            self.n_ctx_train = int(lib.llama_model_n_ctx_train(self._model))
            self.n_ctx = self._context_size(config.n_ctx)
            self.n_threads = config.n_threads or default_threads()
            self.slots = config.slots
            self._ctx = self._new_context()
        self.placement: Placement = offload.placement(
            self._model, read_load_log(lines), config.accelerator
        )
        self._memory = lib.llama_get_memory(self._ctx)
        self.n_batch = int(lib.llama_n_batch(self._ctx))
        self._tokenize_lock = threading.Lock()
        self._pieces: dict[int, bytes] = {}
        self.n_vocab = int(lib.llama_vocab_n_tokens(self._vocab))
        self.bos_id = int(lib.llama_vocab_bos(self._vocab))
        self.eos_id = int(lib.llama_vocab_eos(self._vocab))
        self.add_bos = bool(lib.llama_vocab_get_add_bos(self._vocab))
        self.bos_text = self.token_text(self.bos_id)
        self.eos_text = self.token_text(self.eos_id)

    # -- loading -------------------------------------------------------------------------------

    def _load_model(self, path: Path) -> Any:
        n_layer = block_count(path) if offload.gpu_offload_supported() else 0
        params = offload.model_params(self.config.accelerator, n_layer, path.stat().st_size)
        model = lib.llama_model_load_from_file(str(path).encode(), params.native)
        if not model:
            detail = self._log.last_error() or "llama.cpp could not load it"
            raise ModelLoadError(f"failed to load {path}: {detail}")
        return model

    def _context_size(self, requested: int | None) -> int:
        if requested is None:
            return min(self.n_ctx_train, DEFAULT_N_CTX) if self.n_ctx_train > 0 else DEFAULT_N_CTX
        if self.n_ctx_train > 0 and requested > self.n_ctx_train:
            raise InvalidRequestError(
                f"n_ctx={requested} is more than the {self.n_ctx_train} tokens "
                f"{self.path.name} was trained on; use at most {self.n_ctx_train}"
            )
        return requested

    def _new_context(self) -> Any:
        params = lib.llama_context_default_params()
        params.n_ctx = self.n_ctx
        params.n_batch = min(self.config.n_batch, self.n_ctx)
        params.n_ubatch = min(self.config.n_batch, self.n_ctx)
        params.n_seq_max = self.slots + 1  # and the scratch sequence (:meth:`seq_discard`)
        params.kv_unified = True  # every sequence may use the whole window; prefixes are shared
        params.n_threads = self.n_threads
        params.n_threads_batch = self.n_threads
        params.no_perf = True
        offload.apply_context(params, self.config.accelerator)
        ctx = lib.llama_init_from_model(self._model, params)
        if not ctx:
            lib.llama_model_free(self._model)
            detail = self._log.last_error() or "out of memory?"
            raise ModelLoadError(
                f"failed to create a context of {self.n_ctx} tokens for {self.path}: {detail}"
            )
        return ctx

    def close(self) -> None:
        """Free the context and the model. The engine is unusable afterwards."""
        if getattr(self, "_ctx", None):
            lib.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_model", None):
            lib.llama_model_free(self._model)
            self._model = None

    # -- vocabulary ----------------------------------------------------------------------------

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        raw = lib.llama_vocab_get_text(self._vocab, token)
        return raw.decode("utf-8", errors="replace") if raw else ""

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool = True) -> list[int]:
        """Tokenize ``text``, parsing special tokens such as ``<|im_start|>`` (unless
        ``parse_special`` is False: then their text is plain text)."""
        data = text.encode("utf-8")
        capacity = len(data) + 16
        special = parse_special
        with self._tokenize_lock:
            buf = (lib.llama_token * capacity)()
            n = lib.llama_tokenize(
                self._vocab, data, len(data), buf, capacity, add_special, special
            )
            if n < 0:
                capacity = -n
                buf = (lib.llama_token * capacity)()
                n = lib.llama_tokenize(
                    self._vocab, data, len(data), buf, capacity, add_special, special
                )
        if n < 0:
            raise EngineError(f"tokenization failed ({n})")
        return list(buf[:n])

    def detokenize(self, tokens: list[int]) -> str:
        """The text of ``tokens`` (valid ids), special tokens rendered as their text; bytes
        that are not UTF-8 (a character cut between tokens) become U+FFFD."""
        return self.detokenize_bytes(tokens).decode("utf-8", errors="replace")

    def detokenize_bytes(self, tokens: list[int]) -> bytes:
        """The bytes of ``tokens`` (valid ids), special tokens rendered as their text."""
        if not tokens:
            return b""
        ids = (lib.llama_token * len(tokens))(*tokens)
        capacity = 8 * len(tokens) + 16
        with self._tokenize_lock:
            buf = ctypes.create_string_buffer(capacity)
            n = lib.llama_detokenize(self._vocab, ids, len(tokens), buf, capacity, False, True)
            if n < 0:
                capacity = -n
                buf = ctypes.create_string_buffer(capacity)
                n = lib.llama_detokenize(self._vocab, ids, len(tokens), buf, capacity, False, True)
        if n < 0:
            raise EngineError(f"detokenization failed ({n})")
        return buf.raw[:n]

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for (special tokens render as nothing). Cached."""
        cached = self._pieces.get(token)
        if cached is not None:
            return cached
        buf = ctypes.create_string_buffer(64)
        n = lib.llama_token_to_piece(self._vocab, token, buf, 64, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = lib.llama_token_to_piece(self._vocab, token, buf, -n, 0, False)
        out = buf.raw[: max(n, 0)]
        self._pieces[token] = out
        return out

    # -- for a vision projector (:mod:`hearth.backends.local.vision`) ---------------------------

    @property
    def model_handle(self) -> Any:
        """llama.cpp's ``llama_model*``, which a projector is loaded for."""
        return self._model

    @property
    def n_embd_inp(self) -> int:
        """The width of the model's input embeddings (what a projector must produce)."""
        return int(lib.llama_model_n_embd_inp(self._model))

    def route_log(self, set_logger: Any) -> None:
        """Route another library's log (``mtmd_log_set``) through llama.cpp's log ring."""
        set_logger(self._log.callback, ctypes.c_void_p(0))

    def last_log_error(self) -> str:
        return self._log.last_error()

    @contextmanager
    def causal(self, on: bool) -> Iterator[None]:
        """Causal attention inside the block as ``on`` says (an image a projector wants
        decoded non-causally), then back on."""
        if on:
            yield
            return
        lib.llama_set_causal_attn(self._ctx, False)
        try:
            yield
        finally:
            lib.llama_set_causal_attn(self._ctx, True)

    def decode_native(self, batch: Any, n: int) -> bool:
        """:meth:`decode` for a ``llama_batch`` built elsewhere (of embeddings)."""
        rc = lib.llama_decode(self._ctx, batch)
        if rc == 1:
            return False
        if rc != 0:
            raise EngineError(f"llama_decode failed with code {rc} on {n} image embeddings")
        return True

    def is_eog(self, token: int) -> bool:
        return bool(lib.llama_vocab_is_eog(self._vocab, token))

    @property
    def vocab_handle(self) -> Any:
        """llama.cpp's ``llama_vocab*`` (read-only): what llguidance builds its tokenizer from."""
        return self._vocab

    # -- decoding ------------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every token of every sequence."""
        lib.llama_memory_clear(self._memory, True)

    def decode(self, batch: TokenBatch) -> bool:
        """Evaluate ``batch``. False when the KV cache has no room for it (nothing changed then,
        so the caller may free cells and retry); :class:`EngineError` on any other failure."""
        rc = lib.llama_decode(self._ctx, batch.native)
        if rc == 1:
            return False
        if rc != 0:
            raise EngineError(f"llama_decode failed with code {rc} on a batch of {len(batch)}")
        return True

    def seq_remove(self, seq: int, start: int = 0) -> bool:
        """Drop sequence ``seq``'s tokens at positions ``start…``; False if it cannot be cut."""
        return bool(lib.llama_memory_seq_rm(self._memory, seq, start, -1))

    @property
    def scratch(self) -> int:
        """A sequence id no request uses: it holds the cells of discarded tokens."""
        return self.slots

    def seq_discard(self, seq: int, start: int) -> None:
        """Drop sequence ``seq``'s tokens at positions ``start…`` while their cells stay taken
        (by the scratch sequence), so no hole opens in the middle of the cache for a later
        token to fill out of position order (docs/local-engine.md, "Cell order"). Freed with
        :meth:`free_scratch`."""
        lib.llama_memory_seq_cp(self._memory, seq, self.scratch, start, -1)
        lib.llama_memory_seq_rm(self._memory, seq, start, -1)

    def free_scratch(self) -> bool:
        """Free the cells of the discarded tokens; False if there were none."""
        if int(lib.llama_memory_seq_pos_max(self._memory, self.scratch)) < 0:
            return False
        return bool(lib.llama_memory_seq_rm(self._memory, self.scratch, 0, -1))

    def seq_copy(self, src: int, dst: int, length: int) -> None:
        """Make positions ``0…length-1`` of ``src`` part of ``dst`` too (shared cells, no copy)."""
        lib.llama_memory_seq_cp(self._memory, src, dst, 0, length)

    def seq_save(self, seq: int) -> Snapshot | None:
        """Copy sequence ``seq``'s KV out of the context into host memory (the cells stay until
        removed); None if llama.cpp could not."""
        size = int(lib.llama_state_seq_get_size(self._ctx, seq))
        if size <= 0:
            return None
        data = (ctypes.c_uint8 * size)()
        written = int(lib.llama_state_seq_get_data(self._ctx, data, size, seq))
        return Snapshot(data, written) if written > 0 else None

    def seq_restore(self, seq: int, snapshot: Snapshot) -> bool:
        """Put a saved KV back as sequence ``seq`` (which must be empty); False when the cache has
        no contiguous room for it (nothing is changed then)."""
        read = lib.llama_state_seq_set_data(self._ctx, snapshot.data, snapshot.size, seq)
        return int(read) > 0

    def batch_invariant(self) -> bool:
        """Whether this model's kernels give a token the same logits, bit for bit, when it is
        evaluated in one batch with the tokens before it and when it is evaluated alone after
        them. Probed on prompts of a few lengths in sequence 0 (which is left empty). When it
        holds, reusing a cached prefix never changes a sampled token (docs/local-engine.md)."""
        text = "The quick brown fox jumps over the lazy dog, then sleeps in the warm sun all day."
        tokens = self.tokenize(text, add_special=False)
        try:
            sizes = [n for n in (5, 11, 24) if n <= len(tokens)]
            return all(self._probe(tokens[:n], n) == self._probe(tokens[:n], n - 1) for n in sizes)
        finally:
            self.seq_remove(0)

    def _probe(self, tokens: list[int], split: int) -> bytes:
        """The last token's logits when ``tokens`` are evaluated as two batches cut at ``split``."""
        batch = TokenBatch(len(tokens))
        try:
            self.seq_remove(0)
            for start, end in ((0, split), (split, len(tokens))):
                if start < end:
                    batch.clear()
                    batch.add(tokens[start:end], start, 0, logits=end == len(tokens))
                    if not self.decode(batch):
                        raise EngineError("the KV cache has no room for a 24-token probe")
            return ctypes.string_at(self.logits(len(batch) - 1), 4 * self.n_vocab)
        finally:
            batch.close()

    def logits(self, index: int) -> Any:
        """The logits row (``float[n_vocab]``) of output ``index`` of the last batch."""
        return lib.llama_get_logits_ith(self._ctx, index)

    def sample(self, sampler: Sampler, index: int) -> int:
        """Sample (and accept) a token from the logits of output ``index`` of the last batch."""
        return int(lib.llama_sampler_sample(sampler.handle, self._ctx, index))

    def new_sampler(self, settings: GenerationSettings) -> Sampler:
        return Sampler(settings, self.n_vocab)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One sequence's KV, copied out of the context by :meth:`LlamaEngine.seq_save`."""

    data: Any  # ctypes.c_uint8 array
    size: int
