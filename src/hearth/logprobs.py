"""Log-probabilities of tokens: what a model thought of each token it read or wrote.

A :class:`TokenLogprob` is one token (its text, its bytes, its id where the backend knows it)
with its natural-log probability and, where asked for (``top_logprobs=k``), the ``k`` likeliest
tokens at that position (the chosen one among them when it is one of the ``k``), likeliest
first. Local models give the model's own distribution: the log-softmax of the raw logits,
before any sampler (temperature, top-k, penalties) and before a grammar's mask, as OpenAI and
llama-server report them (docs/local-engine.md). Remote backends pass on what their API
returns.

Generated tokens' log-probabilities travel on :class:`hearth.events.TextDelta` (``logprobs``)
and add up on :attr:`hearth.response.Response.logprobs`; a raw completion's prompt tokens'
(``prompt_logprobs=True``) come on :class:`hearth.events.Done` and
:attr:`hearth.response.Response.prompt_logprobs` (the first token has no context, so its
``logprob`` is None).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_TOP_LOGPROBS = 20
"""The most alternatives a request may ask for at each position (OpenAI's limit)."""


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One token and its log-probability. ``top``: the likeliest tokens at this position,
    likeliest first (each with an empty ``top``); empty unless alternatives were asked for.
    ``logprob`` is None only for a prompt's first token (nothing came before it)."""

    token: str
    logprob: float | None
    bytes: bytes = b""
    id: int | None = None
    top: tuple[TokenLogprob, ...] = ()

    @property
    def probability(self) -> float | None:
        """``exp(logprob)``: the token's probability (None where ``logprob`` is)."""
        import math

        return None if self.logprob is None else math.exp(self.logprob)


Logprobs = tuple[TokenLogprob, ...]
