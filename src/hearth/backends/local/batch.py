"""One decode step's tokens: :class:`TokenBatch` fills a native ``llama_batch`` (each token in
one sequence, logits only where asked). The scheduler puts every running sequence
(:class:`~hearth.backends.local.job.Sequence`) into one batch per step and the engine decodes it
(:meth:`~hearth.backends.local.engine.LlamaEngine.decode`).
"""

from __future__ import annotations

import llama_cpp.llama_cpp as lib


class TokenBatch:
    """A reusable ``llama_batch`` of up to ``capacity`` tokens, one sequence id per token."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.native = lib.llama_batch_init(capacity, 0, 1)
        self.native.n_tokens = 0

    def __len__(self) -> int:
        return int(self.native.n_tokens)

    @property
    def room(self) -> int:
        return self.capacity - int(self.native.n_tokens)

    def clear(self) -> None:
        self.native.n_tokens = 0

    def add(
        self, tokens: list[int], start: int, seq: int, *, logits: bool, every: bool = False
    ) -> int:
        """Append ``tokens`` of sequence ``seq`` at positions ``start…``. With ``logits``, the
        last one's logits are computed (with ``every``, each token's: output ``i`` is batch
        index ``i``); returns the last one's index in the batch (the output index)."""
        b = self.native
        n = int(b.n_tokens)
        if n + len(tokens) > self.capacity:
            raise ValueError(f"{len(tokens)} tokens do not fit in a batch with {self.room} free")
        for i, tok in enumerate(tokens, n):
            b.token[i] = tok
            b.pos[i] = start + i - n
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = 1 if every else 0
        last = n + len(tokens) - 1
        b.logits[last] = 1 if logits or every else 0
        b.n_tokens = last + 1
        return last

    def close(self) -> None:
        if self.native is not None:
            lib.llama_batch_free(self.native)
            self.native = None
