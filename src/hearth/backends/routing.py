"""How a router picks a member for a call: pure state, no I/O (the shells are in
:mod:`hearth.backends.router`).

* **Least outstanding requests.** Each member counts the calls it is working on; a call goes to
  a member with the fewest, ties broken in turn so that one caller's calls spread too.
* **Cooldowns.** A member that failed with a connection error, a timeout, a 5xx or a 429 sits
  out for the ``Retry-After`` its answer gave (capped at :attr:`RoutingPolicy.max_cooldown`), or
  :attr:`RoutingPolicy.cooldown` seconds when it gave none. A member that answers ends its
  cooldown at once.
* **Prefix affinity.** A chat's leading messages (up to and including the first user message),
  or a raw prompt's first characters, are hashed; rendezvous hashing over the members that are
  not cooling down picks the member for that hash, so every turn of a conversation (and every
  call sharing a system prompt and first question) lands on the member whose prompt cache
  already holds its start. Affinity yields to load: when that member has
  :attr:`RoutingPolicy.affinity_slack` more calls in flight than the least busy one, the call
  goes to the least busy one instead.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hearth.backends.base import Backend
from hearth.messages import TextPart
from hearth.request import ChatRequest

PROMPT_AFFINITY_CHARS = 512
"""How much of a raw prompt its affinity hash covers."""


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """How a router chooses, and how long a failed member sits out.

    ``cooldown``: seconds without ``Retry-After``; ``max_cooldown``: the most a ``Retry-After``
    may impose; ``affinity``: prefix affinity on or off; ``affinity_slack``: how many more calls
    in flight than the least busy member the affine member may have and still be chosen.
    ``clock`` exists so tests can run on a fake clock."""

    cooldown: float = 5.0
    max_cooldown: float = 300.0
    affinity: bool = True
    affinity_slack: int = 4
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)


@dataclass(slots=True, eq=False)
class Member:
    """One backend a router may send a call to, and what the router knows of it."""

    backend: Backend
    seed: bytes
    outstanding: int = 0
    cooling_until: float = 0.0
    served: int = 0
    failures: int = 0

    @property
    def name(self) -> str:
        return self.backend.name


def affinity_key(request: ChatRequest) -> bytes | None:
    """The hash that keeps a conversation on one member: its leading messages up to and
    including the first user message (role and text), or a raw prompt's start."""
    if request.prompt is not None:
        return _digest(request.prompt[:PROMPT_AFFINITY_CHARS].encode("utf-8", "replace"))
    pieces: list[str] = []
    for message in request.messages:
        text = "".join(p.text for p in message.parts if isinstance(p, TextPart))
        pieces.append(f"{message.role}\x1f{text}")
        if message.role == "user":
            break
    if not pieces:
        return None
    return _digest("\x1e".join(pieces).encode("utf-8", "replace"))


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _score(key: bytes, member: Member) -> bytes:
    return hashlib.blake2b(key, digest_size=8, key=member.seed).digest()


class RoutingTable:
    """The members and their state; thread-safe (one lock, held for microseconds)."""

    def __init__(self, backends: Sequence[Backend], policy: RoutingPolicy) -> None:
        self.policy = policy
        self.members = tuple(
            Member(b, f"{i}:{b.name}".encode()[:64]) for i, b in enumerate(backends)
        )
        self._lock = threading.Lock()
        self._turn = 0
        self.affinity_kept = 0
        """Calls that went to the member their prefix hash picked."""
        self.affinity_yielded = 0
        """Calls whose prefix hash picked a member too busy to take them."""

    def pick(self, key: bytes | None, exclude: Sequence[Member] = ()) -> Member | None:
        """The member for a call (its count of calls in flight raised), or None when every
        member not in ``exclude`` is cooling down."""
        now = self.policy.clock()
        with self._lock:
            ready = [m for m in self.members if m not in exclude and m.cooling_until <= now]
            if not ready:
                return None
            chosen = self._least_busy(ready)
            if key is not None and self.policy.affinity:
                chosen = self._affine(key, ready, chosen)
            chosen.outstanding += 1
            return chosen

    def _affine(self, key: bytes, ready: list[Member], least: Member) -> Member:
        """The member ``key`` hashes to among the ready ones (rendezvous hashing: while a
        member sits out, its prefixes go to one other member each, and come back after), if
        it is not too busy; else ``least``."""
        home = max(ready, key=lambda m: _score(key, m))
        if home.outstanding <= least.outstanding + self.policy.affinity_slack:
            self.affinity_kept += 1
            return home
        self.affinity_yielded += 1
        return least

    def _least_busy(self, ready: list[Member]) -> Member:
        fewest = min(m.outstanding for m in ready)
        tied = [m for m in ready if m.outstanding == fewest]
        self._turn = (self._turn + 1) % len(self.members)
        return tied[self._turn % len(tied)]

    def finished(self, member: Member, *, ok: bool, retry_after: float | None = None) -> None:
        """A call on ``member`` ended: it answered (``ok``), or failed in a way that makes it
        sit out (``retry_after``: what the answer asked for)."""
        with self._lock:
            member.outstanding -= 1
            if ok:
                member.served += 1
                member.cooling_until = 0.0
                return
            member.failures += 1
            wait = self.policy.cooldown if retry_after is None else retry_after
            wait = min(max(wait, 0.0), self.policy.max_cooldown)
            member.cooling_until = max(member.cooling_until, self.policy.clock() + wait)

    def released(self, member: Member) -> None:
        """A call on ``member`` ended without saying anything of the member's health (the
        caller stopped reading, or the request itself was wrong)."""
        with self._lock:
            member.outstanding -= 1

    def next_ready_in(self) -> float:
        """Seconds until the first cooling member may be tried again."""
        now = self.policy.clock()
        with self._lock:
            return max(0.0, min(m.cooling_until for m in self.members) - now)
