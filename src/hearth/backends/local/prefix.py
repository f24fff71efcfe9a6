"""Which KV-cache sequence a new request runs in, and how much of its prompt is already computed.

Pure bookkeeping, no llama.cpp: the scheduler applies the plans. Every sequence slot of the
context remembers the tokens whose KV it holds. A finished request leaves its KV in its slot
(idle), so the next turn of the same conversation, or any request sharing a system prompt,
finds its prefix there. A new request gets:

* the idle slot whose tokens share the longest prefix with its prompt (its KV is reused in place
  and cut after the shared part), or else the least recently used idle slot;
* if another slot (idle or still running) shares an even longer prefix, that prefix is copied
  into the chosen slot. In a unified KV cache a copy only tags the same cells, so it is free.

At least the prompt's last token is always recomputed, because sampling needs its logits. Idle
slots hold at most ``budget`` tokens together; beyond that the least recently used are emptied.
A budget of 0 turns the cache off: slots are emptied as soon as their request ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """The length of the longest common prefix of ``a`` and ``b``."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]: bisect with C-speed slice compares
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True, slots=True)
class Plan:
    """Run a request in ``slot``; its first ``reuse`` prompt tokens are already computed.

    ``source`` is the slot to copy those tokens from, or None when ``slot`` itself holds them.
    ``drop`` tells how many tokens ``slot`` held before (cut from position ``reuse`` on, or
    emptied when the prefix comes from ``source``)."""

    slot: int
    reuse: int
    source: int | None = None
    drop: int = 0


@dataclass(slots=True)
class _Slot:
    tokens: list[int] = field(default_factory=list)
    busy: bool = False
    last_used: int = 0


class SlotTable:
    """The tokens held by each of ``slots`` sequences, which are busy, and the LRU order."""

    def __init__(self, slots: int, budget: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        if budget < 0:
            raise ValueError(f"the prefix cache budget must be >= 0 tokens, got {budget}")
        self.budget = budget
        self._slots = [_Slot() for _ in range(slots)]
        self._tick = 0

    def __len__(self) -> int:
        return len(self._slots)

    def tokens(self, slot: int) -> list[int]:
        """The tokens whose KV ``slot`` holds (do not mutate)."""
        return self._slots[slot].tokens

    def busy(self, slot: int) -> bool:
        return self._slots[slot].busy

    @property
    def idle(self) -> int:
        """How many slots are free to take a request."""
        return sum(not s.busy for s in self._slots)

    @property
    def cached(self) -> int:
        """Tokens held by idle slots."""
        return sum(len(s.tokens) for s in self._slots if not s.busy)

    def plan(self, prompt: Sequence[int]) -> Plan | None:
        """Where ``prompt`` should run, or None when every slot is busy."""
        limit = max(len(prompt) - 1, 0)
        own: tuple[int, int, int] | None = None  # (match, -last_used, slot): max is best
        for i, s in enumerate(self._slots):
            if not s.busy:
                match = min(common_prefix(s.tokens, prompt), limit) if self.budget else 0
                candidate = (match, -s.last_used, i)
                if own is None or candidate > own:
                    own = candidate
        if own is None:
            return None
        reuse, _, slot = own
        if reuse == 0:  # nothing of its own to keep: take the least recently used idle slot
            slot = min(
                (i for i, s in enumerate(self._slots) if not s.busy),
                key=lambda i: (self._slots[i].last_used, len(self._slots[i].tokens)),
            )
        held = len(self._slots[slot].tokens)
        source, best = None, reuse
        if self.budget:
            for i, s in enumerate(self._slots):
                match = min(common_prefix(s.tokens, prompt), limit)
                if i != slot and match > best:
                    source, best = i, match
        if source is not None:
            return Plan(slot, best, source, drop=held)
        return Plan(slot, reuse, None, drop=held - reuse)

    def start(self, plan: Plan, prompt: Sequence[int]) -> None:
        """Mark ``plan.slot`` busy, holding the first ``plan.reuse`` prompt tokens."""
        s = self._slots[plan.slot]
        if s.busy:
            raise ValueError(f"slot {plan.slot} is already running a request")
        s.busy = True
        s.tokens = list(prompt[: plan.reuse])

    def extend(self, slot: int, tokens: Sequence[int]) -> None:
        """``tokens`` were just computed into ``slot``, after the ones it held."""
        self._slots[slot].tokens.extend(tokens)

    def release(self, slot: int, *, keep: bool = True) -> None:
        """The request in ``slot`` ended. Its KV stays cached unless ``keep`` is False or the
        cache is off."""
        s = self._slots[slot]
        s.busy = False
        self._tick += 1
        s.last_used = self._tick
        if not keep or not self.budget:
            s.tokens = []

    def clear(self, slot: int) -> None:
        """``slot`` no longer holds any KV."""
        self._slots[slot].tokens = []

    def evict_lru(self) -> int | None:
        """Empty the least recently used idle slot that holds tokens; its index, or None."""
        held = [i for i, s in enumerate(self._slots) if not s.busy and s.tokens]
        if not held:
            return None
        slot = min(held, key=lambda i: self._slots[i].last_used)
        self._slots[slot].tokens = []
        return slot

    def over_budget(self) -> list[int]:
        """Empty idle slots, least recently used first, until they hold at most ``budget``
        tokens; the slots emptied."""
        emptied: list[int] = []
        while self.cached > self.budget:
            slot = self.evict_lru()
            if slot is None:
                break
            emptied.append(slot)
        return emptied
