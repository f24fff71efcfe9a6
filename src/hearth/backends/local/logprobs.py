"""Log-probabilities from the local engine's logits: the model's own distribution.

Each value is the log-softmax of a raw logits row (``llama_get_logits_ith``), computed before
the sampler chain (temperature, top-k/top-p, penalties) and before a grammar's mask, as OpenAI
and llama-server report them; so a token a grammar forbids may appear among the alternatives,
and the chosen token's log-probability is what the unconstrained model gave it. Rows are read
with numpy (a dependency of llama-cpp-python) in float64.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hearth.logprobs import TokenLogprob

if TYPE_CHECKING:
    from hearth.backends.local.engine import LlamaEngine


class RowLogprobs:
    """The log-softmax of one logits row (a copy, so a later mask of the row changes nothing)."""

    def __init__(self, row: Any, n_vocab: int) -> None:
        import numpy as np

        logits = np.ctypeslib.as_array(row, shape=(n_vocab,)).astype(np.float64)
        top = float(logits.max())
        norm = top + float(np.log(np.exp(logits - top).sum()))
        self._values = logits - norm

    def of(self, token: int) -> float:
        return float(self._values[token])

    def likeliest(self, k: int) -> list[int]:
        """The ``k`` likeliest token ids, likeliest first (ties: the lower id first)."""
        import numpy as np

        values = self._values
        if k <= 0:
            return []
        k = min(k, len(values))
        part = np.argpartition(-values, k - 1)[:k]
        order = sorted(part.tolist(), key=lambda t: (-values[t], t))
        return [int(t) for t in order]


def token_logprob(engine: LlamaEngine, row: RowLogprobs, token: int, top: int) -> TokenLogprob:
    """``token``'s entry from ``row``, with its ``top`` likeliest alternatives."""
    alternatives = tuple(_entry(engine, t, row.of(t)) for t in row.likeliest(top))
    return _entry(engine, token, row.of(token), alternatives)


def first_token(engine: LlamaEngine, token: int) -> TokenLogprob:
    """A prompt's first token: nothing came before it, so it has no log-probability."""
    return _entry(engine, token, None)


def _entry(
    engine: LlamaEngine, token: int, logprob: float | None, top: tuple[TokenLogprob, ...] = ()
) -> TokenLogprob:
    data = engine.piece(token)
    text = data.decode("utf-8", errors="replace") if data else engine.token_text(token)
    return TokenLogprob(text, logprob, data, token, top)
