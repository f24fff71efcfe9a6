"""A native llama.cpp sampler chain built from :class:`GenerationSettings`.

Each running sequence owns one (:meth:`LlamaEngine.new_sampler
<hearth.backends.local.engine.LlamaEngine.new_sampler>`); the engine samples with it from a row
of the last batch's logits, so the per-token work stays inside llama.cpp.
"""

from __future__ import annotations

import os
from typing import Any

import llama_cpp.llama_cpp as lib

from hearth.settings import GenerationSettings

# llama.cpp's defaults, applied when a setting is None.
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_K = 40
DEFAULT_TOP_P = 0.95
DEFAULT_MIN_P = 0.05
PENALTY_LAST_N = 64


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
