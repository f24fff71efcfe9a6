"""The thinking budget, enforced in the engine through the constraint hook.

A reasoning model's prompt leaves it inside its think block
(:mod:`hearth.backends.local.reasoning`). :class:`ThinkingGate` is the
:class:`~hearth.backends.local.constraints.Constraint` of such a sequence:

* while the model thinks, it counts the tokens and masks nothing; the model may close the
  block itself (its text ends with the closing tag);
* once ``budget`` thinking tokens were sampled, it forces the closing text (the closing tag and
  a blank line, tokenized once per model) one token at a time: every other token's logit is set
  to -inf, so any sampler picks the forced one, and the answer follows;
* after the thinking, the request's own constraint (a tool-call or response_format grammar), if
  any, takes over, so constrained output starts where the answer starts, never inside the
  thinking. With such a constraint the model may not end its turn inside the thinking (its
  end-of-generation tokens are masked there): the constrained answer must come.

:attr:`ThinkingGate.thinking_tokens` is what ``Usage.thinking_tokens`` reports: the tokens
sampled inside the thinking, the model's own closing tag included, the forced closing text not.
With a budget it is at most ``budget``.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hearth.backends.local.constraints import Constraint


class ThinkingGate:
    """See the module docstring. ``close_tokens``: the forced closing text's tokens; ``piece``:
    a token's bytes (control tokens in ``close`` shown); ``n_vocab``: the logits row's size;
    ``eog``: the end-of-generation tokens, masked inside the thinking when there is an
    ``inner`` constraint."""

    def __init__(
        self,
        *,
        close: str,
        close_tokens: Sequence[int],
        piece: Callable[[int], bytes],
        n_vocab: int,
        budget: int | None = None,
        inner: Constraint | None = None,
        eog: Sequence[int] = (),
    ) -> None:
        self._close = close
        self._close_tokens = tuple(close_tokens)
        self._piece = piece
        self._n_vocab = n_vocab
        self._budget = budget
        self._inner = inner
        self._eog = tuple(eog) if inner is not None else ()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""
        self._forced: list[int] = []
        self._thinking = True
        self.thinking_tokens = 0
        if budget is not None and budget <= 0:
            self._forced = list(self._close_tokens)

    @property
    def thinking(self) -> bool:
        """True while the sequence is inside its thinking (the closing text included)."""
        return self._thinking

    def mask(self, logits: Any) -> None:
        if self._forced:
            import numpy as np

            row = np.ctypeslib.as_array(logits, shape=(self._n_vocab,))
            row.fill(-np.inf)
            row[self._forced[0]] = 0.0
        elif not self._thinking and self._inner is not None:
            self._inner.mask(logits)
        elif self._thinking and self._eog:
            for token in self._eog:
                logits[token] = -math.inf

    def accept(self, token: int) -> None:
        if self._forced:
            self._forced.pop(0)
            if not self._forced:
                self._thinking = False
            return
        if not self._thinking:
            if self._inner is not None:
                self._inner.accept(token)
            return
        self.thinking_tokens += 1
        text = self._tail + self._decoder.decode(self._piece(token))
        if self._close in text:
            self._thinking = False
            return
        self._tail = text[-len(self._close) :]
        if self._budget is not None and self.thinking_tokens >= self._budget:
            self._forced = list(self._close_tokens)

    def is_finished(self) -> bool:
        return not self._thinking and self._inner is not None and self._inner.is_finished()

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
            self._inner = None
