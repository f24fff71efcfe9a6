"""One llama.cpp model and context, driven through llama-cpp-python's low-level bindings.

:class:`LlamaEngine` is *not* thread-safe: the scheduler's worker thread is its only user, except
for :meth:`LlamaEngine.tokenize`, which reads only the (immutable) vocabulary and is guarded by its
own lock so callers can tokenize while the worker decodes.

Sampling runs in llama.cpp's native sampler chain and token pieces are cached, so the per-token
Python work is a handful of ctypes calls: this is what lets hearth decode at least as fast as
llama-cpp-python's own ``Llama`` class, which copies the whole logits row into numpy every token.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp.llama_cpp as lib

from hearth.errors import HearthError, InvalidRequestError, ModelLoadError
from hearth.settings import GenerationSettings

DEFAULT_N_CTX = 8192
DEFAULT_N_BATCH = 512

# llama.cpp's defaults, applied when a setting is None.
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_K = 40
DEFAULT_TOP_P = 0.95
DEFAULT_MIN_P = 0.05
PENALTY_LAST_N = 64


class EngineError(HearthError):
    """llama.cpp failed while running a loaded model."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How to load a model. ``n_ctx=None`` uses min(trained length, 8192)."""

    n_ctx: int | None = None
    n_threads: int | None = None
    n_batch: int = DEFAULT_N_BATCH
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.n_ctx is not None and self.n_ctx < 16:
            raise InvalidRequestError(f"n_ctx must be at least 16, got {self.n_ctx}")
        if self.n_threads is not None and self.n_threads < 1:
            raise InvalidRequestError(f"n_threads must be at least 1, got {self.n_threads}")
        if not 1 <= self.n_batch <= 8192:
            raise InvalidRequestError(f"n_batch must be between 1 and 8192, got {self.n_batch}")


def default_threads() -> int:
    """One thread per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _LlamaLog:
    """Routes llama.cpp's log lines: kept in a small ring (to explain load failures), and printed
    to stderr only when verbose. llama.cpp's logger is process-wide, so there is one of these."""

    _lock = threading.Lock()
    _instance: _LlamaLog | None = None

    def __init__(self) -> None:
        self.verbose = False
        self.recent: deque[str] = deque(maxlen=32)
        self._callback = lib.llama_log_callback(self._on_log)
        lib.llama_log_set(self._callback, ctypes.c_void_p(0))

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
        if self.verbose:
            os.write(2, text)

    def last_error(self) -> str:
        for line in reversed(self.recent):
            if "error" in line.lower() or "failed" in line.lower():
                return line.strip()
        return ""


class LlamaEngine:
    """A loaded GGUF model with one llama.cpp context."""

    def __init__(self, path: Path, config: EngineConfig) -> None:
        self.path = path
        self.config = config
        self._log = _LlamaLog.install(config.verbose)
        self._model = self._load_model(path)
        self._vocab = lib.llama_model_get_vocab(self._model)
        self.n_ctx_train = int(lib.llama_model_n_ctx_train(self._model))
        self.n_ctx = self._context_size(config.n_ctx)
        self.n_threads = config.n_threads or default_threads()
        self._ctx = self._new_context()
        self.n_batch = int(lib.llama_n_batch(self._ctx))
        self._batch = lib.llama_batch_init(self.n_batch, 0, 1)
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
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0
        model = lib.llama_model_load_from_file(str(path).encode(), params)
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
        params.n_seq_max = 1
        params.n_threads = self.n_threads
        params.n_threads_batch = self.n_threads
        params.no_perf = True
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
            lib.llama_batch_free(self._batch)
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

    def tokenize(self, text: str, *, add_special: bool) -> list[int]:
        """Tokenize ``text``, parsing special tokens such as ``<|im_start|>``."""
        data = text.encode("utf-8")
        capacity = len(data) + 16
        with self._tokenize_lock:
            buf = (lib.llama_token * capacity)()
            n = lib.llama_tokenize(self._vocab, data, len(data), buf, capacity, add_special, True)
            if n < 0:
                capacity = -n
                buf = (lib.llama_token * capacity)()
                n = lib.llama_tokenize(
                    self._vocab, data, len(data), buf, capacity, add_special, True
                )
        if n < 0:
            raise EngineError(f"tokenization failed ({n})")
        return list(buf[:n])

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

    def is_eog(self, token: int) -> bool:
        return bool(lib.llama_vocab_is_eog(self._vocab, token))

    # -- decoding ------------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget every token in the context."""
        lib.llama_memory_clear(lib.llama_get_memory(self._ctx), True)

    def decode(self, tokens: list[int], start: int) -> None:
        """Evaluate ``tokens`` at positions ``start…``; logits only for the last one.
        ``len(tokens)`` must be at most ``n_batch``."""
        batch = self._batch
        n = len(tokens)
        for i, tok in enumerate(tokens):
            batch.token[i] = tok
            batch.pos[i] = start + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 0
        batch.logits[n - 1] = 1
        batch.n_tokens = n
        rc = lib.llama_decode(self._ctx, batch)
        if rc != 0:
            raise EngineError(f"llama_decode failed with code {rc} at position {start}")

    def decode_one(self, token: int, pos: int) -> None:
        """The hot path: one token, one sequence."""
        batch = self._batch
        batch.token[0] = token
        batch.pos[0] = pos
        batch.n_seq_id[0] = 1
        batch.seq_id[0][0] = 0
        batch.logits[0] = 1
        batch.n_tokens = 1
        rc = lib.llama_decode(self._ctx, batch)
        if rc != 0:
            raise EngineError(f"llama_decode failed with code {rc} at position {pos}")

    def sample(self, sampler: Sampler) -> int:
        return int(lib.llama_sampler_sample(sampler.handle, self._ctx, -1))

    def new_sampler(self, settings: GenerationSettings) -> Sampler:
        return Sampler(settings, self.n_vocab)


class Sampler:
    """A native llama.cpp sampler chain built from GenerationSettings. Free it with close()."""

    def __init__(self, settings: GenerationSettings, n_vocab: int) -> None:
        self.handle = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        add = self._add
        s = settings
        repeat = 1.0 if s.repeat_penalty is None else s.repeat_penalty
        freq = s.frequency_penalty or 0.0
        presence = s.presence_penalty or 0.0
        if repeat != 1.0 or freq != 0.0 or presence != 0.0:
            add(lib.llama_sampler_init_penalties(n_vocab, PENALTY_LAST_N, repeat, freq, presence))
        temperature = DEFAULT_TEMPERATURE if s.temperature is None else s.temperature
        if temperature <= 0.0:
            add(lib.llama_sampler_init_greedy())
            return
        top_k = DEFAULT_TOP_K if s.top_k is None else s.top_k
        if 0 < top_k < n_vocab:
            add(lib.llama_sampler_init_top_k(top_k))
        top_p = DEFAULT_TOP_P if s.top_p is None else s.top_p
        if top_p < 1.0:
            add(lib.llama_sampler_init_top_p(top_p, 1))
        min_p = DEFAULT_MIN_P if s.min_p is None else s.min_p
        if min_p > 0.0:
            add(lib.llama_sampler_init_min_p(min_p, 1))
        add(lib.llama_sampler_init_temp(temperature))
        add(lib.llama_sampler_init_dist(native_seed(s.seed)))

    def _add(self, sampler: Any) -> None:
        lib.llama_sampler_chain_add(self.handle, sampler)

    def close(self) -> None:
        if self.handle:
            lib.llama_sampler_free(self.handle)
            self.handle = None


def native_seed(seed: int | None) -> int:
    """Map any integer seed onto llama.cpp's 32-bit seeds, avoiding its "random" value."""
    if seed is None:
        return int.from_bytes(os.urandom(4), "little") % lib.LLAMA_DEFAULT_SEED
    return seed % lib.LLAMA_DEFAULT_SEED
