"""Token-level access to a model: tokenize, detokenize, count a request's tokens.

A backend offers these by implementing :class:`Tokenizer` (its vocabulary is at hand: local
models) and :class:`TokenCounter` (it can say how many tokens a request's prompt takes: local
models, and remote APIs with a counting endpoint, Anthropic's ``count_tokens`` and Gemini's
``countTokens``). :class:`hearth.Model`'s ``tokenize`` / ``detokenize`` / ``count_tokens`` call
them, and raise :class:`~hearth.errors.UnsupportedFeatureError` for a backend that has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hearth.errors import InvalidRequestError, UnsupportedFeatureError

if TYPE_CHECKING:
    from hearth.request import ChatRequest


@runtime_checkable
class Tokenizer(Protocol):
    """A backend whose vocabulary is at hand."""

    def tokenize(
        self, text: str, *, add_special: bool = False, parse_special: bool = True
    ) -> list[int]:
        """``text`` as token ids. ``add_special``: add the BOS (and EOS) the vocabulary asks
        for; ``parse_special``: read special-token text (``<|im_start|>``) as those tokens."""
        ...

    def detokenize(self, tokens: Sequence[int]) -> str:
        """The text of ``tokens`` (special tokens as their text)."""
        ...

    def pieces(self, tokens: Sequence[int]) -> list[bytes]:
        """Each token's bytes (special tokens as their text)."""
        ...

    def apply_template(self, request: ChatRequest) -> str:
        """The text the model reads for ``request``: its chat template's rendering."""
        ...


@runtime_checkable
class TokenCounter(Protocol):
    """A backend that can count the tokens of a request's prompt, as the model reads it (a
    remote one by asking its API: this may do I/O, and raises what it meets). Not to be
    confused with :meth:`hearth.backends.base.BackendBase.count_tokens`, the agent's local,
    best-effort count (None when unknown)."""

    def count_request_tokens(self, request: ChatRequest) -> int: ...


class _Named(Protocol):
    """What the errors below need of a backend (:class:`hearth.backends.base.Backend` has it):
    its name, to say which model has no tokenizer."""

    @property
    def name(self) -> str: ...


def tokenizer(backend: _Named) -> Tokenizer:
    """``backend`` as a :class:`Tokenizer`, or the error saying it has none."""
    if isinstance(backend, Tokenizer):
        return backend
    raise UnsupportedFeatureError(
        f"{backend.name} has no tokenizer hearth can reach (only local models do); to count a "
        "request's tokens use count_tokens(), which Anthropic and Gemini models answer too"
    )


def counter(backend: _Named) -> TokenCounter:
    """``backend`` as a :class:`TokenCounter`, or the error saying it cannot count."""
    if isinstance(backend, TokenCounter):
        return backend
    raise UnsupportedFeatureError(
        f"{backend.name} cannot count tokens: its API has no token-counting endpoint (local "
        "models, Anthropic and Gemini have one); the usage of an answer counts them after "
        "the fact"
    )


def check_token_ids(tokens: object, n_vocab: int) -> list[int]:
    """``tokens`` as a list of valid token ids (0 ≤ id < ``n_vocab``), or InvalidRequestError
    naming the first bad one."""
    if isinstance(tokens, str | bytes) or not isinstance(tokens, Sequence):
        raise InvalidRequestError(
            f"tokens must be a list of token ids, got {type(tokens).__name__}"
        )
    out: list[int] = []
    for i, token in enumerate(tokens):
        if isinstance(token, bool) or not isinstance(token, int):
            raise InvalidRequestError(f"tokens[{i}] must be a token id (an integer), got {token!r}")
        if not 0 <= token < n_vocab:
            raise InvalidRequestError(
                f"tokens[{i}] = {token} is not in this model's vocabulary (ids 0 to {n_vocab - 1})"
            )
        out.append(token)
    return out
