"""Speculative decoding by prompt lookup: drafts taken from a sequence's own tokens.

A sequence that copies from its input (a rewrite of a code snippet, fields pulled out of a
document into JSON) often continues with tokens it has already seen. :class:`NgramDrafter`
finds the longest recent n-gram (``MAX_NGRAM`` down to ``MIN_NGRAM`` tokens) that ends the
sequence's tokens (prompt and output) and occurred before, and proposes the tokens that followed
that earlier occurrence as a draft. The scheduler puts the pending token and the draft into the
same ``llama_decode`` as the other sequences' steps, with logits on for each, then samples every
position in turn with the sequence's own sampler chain, keeping a drafted token while the
sampled token equals it; the first sampled token that differs (or the one after a fully accepted
draft) is the next pending token, and the KV of the rejected drafts is removed.

Every emitted token is sampled by the same chain from the same logits as without speculation
(the rows of a batch under 64 tokens do not depend on what else is in it; docs/local-engine.md),
so greedy output is identical and a seeded stream gives the same tokens: the draft is
deterministic given the tokens so far, which keeps the output distribution the target's.

:class:`DraftController` adapts the draft length per sequence: it grows while drafts are
accepted whole and shrinks to what was accepted; when the acceptance over the last drafted
tokens falls too low it stops drafting for a while (longer each time), so a stream that does
not repeat itself pays for almost no rejected tokens. Pure: no llama.cpp here.

With a draft model (:mod:`hearth.backends.local.draft_model`), a sequence keeps only its tokens
(:class:`TokenHistory`) and the draft model proposes the draft; the same controller sizes it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Literal

SpeculativeMode = Literal["ngram", "off"]
SPECULATIVE_MODES: tuple[SpeculativeMode, ...] = ("ngram", "off")

MIN_NGRAM = 2
MAX_NGRAM = 4
MIN_DRAFT = 2
MAX_DRAFT = 8
WINDOW = 16  # drafted tokens the acceptance rate is measured over
MIN_RATE = 0.35  # below this acceptance over a full window, drafting pauses
PAUSE = 32  # tokens without drafting after the first low window (doubling, at most MAX_PAUSE)
MAX_PAUSE = 512


class TokenHistory:
    """A sequence's tokens so far (prompt and sampled output); drafts nothing itself."""

    def __init__(self, tokens: Iterable[int] = ()) -> None:
        self.tokens: list[int] = list(tokens)

    def push(self, token: int) -> None:
        self.tokens.append(token)

    def draft(self, k: int) -> list[int]:
        return []


class NgramDrafter(TokenHistory):
    """A sequence's tokens, indexed so the continuation of its last n-gram is found in O(1).

    For each n in ``MIN_NGRAM…MAX_NGRAM``, the index maps an n-gram to the position just after
    its most recent occurrence that has a following token."""

    def __init__(self, tokens: Iterable[int] = ()) -> None:
        super().__init__()
        self._index: dict[tuple[int, ...], int] = {}
        for token in tokens:
            self.push(token)

    def push(self, token: int) -> None:
        """Append ``token``: the n-grams that end just before it now have a continuation."""
        tokens = self.tokens
        tokens.append(token)
        end = len(tokens) - 1  # where the n-grams ending before ``token`` are followed
        for n in range(MIN_NGRAM, MAX_NGRAM + 1):
            if end >= n:
                self._index[tuple(tokens[end - n : end])] = end

    def draft(self, k: int) -> list[int]:
        """Up to ``k`` tokens that followed the longest earlier occurrence of the last n-gram
        (the most recent such occurrence); empty when there is none."""
        tokens = self.tokens
        if k <= 0:
            return []
        for n in range(MAX_NGRAM, MIN_NGRAM - 1, -1):
            if len(tokens) <= n:
                continue
            at = self._index.get(tuple(tokens[-n:]))
            if at is not None:
                return tokens[at : at + k]
        return []


class DraftController:
    """How many tokens a sequence drafts next, from how its drafts fared."""

    def __init__(self) -> None:
        self.length = MIN_DRAFT
        self.paused = 0  # tokens left before drafting again
        self._pause = PAUSE
        self._window: deque[tuple[int, int]] = deque()  # (drafted, accepted) per verification
        self._drafted = 0
        self._accepted = 0
        self.drafted_total = 0
        self.accepted_total = 0

    def budget(self) -> int:
        """The draft length to ask for now (0: not drafting)."""
        return 0 if self.paused > 0 else self.length

    def skipped(self, tokens: int = 1) -> None:
        """``tokens`` were produced without a draft (counts down a pause)."""
        self.paused = max(0, self.paused - tokens)

    def record(self, drafted: int, accepted: int) -> None:
        """A draft of ``drafted`` tokens had its first ``accepted`` kept."""
        if drafted <= 0:
            return
        self.drafted_total += drafted
        self.accepted_total += accepted
        if accepted == drafted:
            self.length = min(MAX_DRAFT, self.length + 2)
        else:
            self.length = max(MIN_DRAFT, min(self.length, accepted + 1))
        self._window.append((drafted, accepted))
        self._drafted += drafted
        self._accepted += accepted
        while self._window and self._drafted - self._window[0][0] >= WINDOW:
            old_drafted, old_accepted = self._window.popleft()
            self._drafted -= old_drafted
            self._accepted -= old_accepted
        if self._drafted >= WINDOW:
            self._judge()

    def _judge(self) -> None:
        if self._accepted < MIN_RATE * self._drafted:
            self.paused = self._pause
            self._pause = min(MAX_PAUSE, self._pause * 2)
            self.length = MIN_DRAFT
        else:
            self._pause = PAUSE
        if self.paused:
            self._window.clear()
            self._drafted = self._accepted = 0


class Speculation:
    """One sequence's drafting state: its tokens and its controller. ``lookup``: drafts come
    from prompt lookup; else from a draft model, which reads :attr:`tokens`."""

    def __init__(self, prompt: Iterable[int], *, lookup: bool = True) -> None:
        self.drafter = NgramDrafter(prompt) if lookup else TokenHistory(prompt)
        self.control = DraftController()

    @property
    def tokens(self) -> list[int]:
        """The sequence's tokens: its prompt, then every token sampled (the pending one last)."""
        return self.drafter.tokens

    def budget(self, room: int) -> int:
        """How many tokens to draft now (at most ``room``; 0: none this step)."""
        return min(self.control.budget(), room)

    def taken(self, draft: list[int]) -> list[int]:
        """``draft`` is what this step verifies; an empty one counts as a step without."""
        if not draft:
            self.control.skipped()
        return draft

    def propose(self, room: int) -> list[int]:
        """The draft to decode after the last token (at most ``room`` tokens; maybe none)."""
        k = self.budget(room)
        return self.taken(self.drafter.draft(k) if k > 0 else [])

    @property
    def drafted(self) -> int:
        return self.control.drafted_total

    @property
    def accepted(self) -> int:
        return self.control.accepted_total
