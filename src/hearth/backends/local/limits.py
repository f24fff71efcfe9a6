"""What a local model's vocabulary says about the most text its context window could hold."""

from __future__ import annotations

import ctypes

import llama_cpp.llama_cpp as lib

from hearth.backends.local.engine import LlamaEngine

_PIECE_BUFFER = 256


def longest_token_bytes(engine: LlamaEngine) -> int:
    """The bytes of the model's longest token, special tokens as their text included (a user's
    text that spells one is tokenized as it): no text of ``n`` tokens is longer than ``n`` times
    this. One pass over the vocabulary (0.05 s for 49,152 tokens, 0.3 s for 262,144)."""
    vocab = engine.vocab_handle
    buf = ctypes.create_string_buffer(_PIECE_BUFFER)
    longest = 1
    for token in range(engine.n_vocab):
        n = lib.llama_token_to_piece(vocab, token, buf, _PIECE_BUFFER, 0, True)
        longest = max(longest, -n if n < 0 else n)  # negative: the piece needs -n bytes
    return longest
