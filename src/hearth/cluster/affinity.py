"""Which replica a request prefers: prefix affinity with a fallback to the least loaded.

A request's affinity key is :func:`hearth.backends.routing.affinity_key`: a hash of the
conversation's leading messages up to and including the first user message (a raw prompt's
first characters), the same key the ``router:`` backend uses. Rendezvous hashing over the
replica ids gives every key one *home* replica, so every turn of a chat and every step of an
agent lands on the replica whose KV cache already holds its start; when a replica goes away
only its own keys move (each to one other replica), and they come back when it returns.

The home replica is ranked first unless it has more than ``slack`` requests more than the
least loaded one; the others follow, least loaded first. Ray Serve's request router then sends
the request to the first replica in that order that has room (:mod:`hearth.cluster.request_router`).
Pure code: no Ray here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_SLACK = 2
"""How many more requests than the least loaded replica the home replica may hold and still
be preferred (its cached prefix saves prompt processing; a long queue costs more)."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A replica that could take the request: its id and the requests it holds (None when
    not known yet: counted as 0)."""

    id: str
    load: int | None = None

    @property
    def known_load(self) -> int:
        return self.load or 0


def score(key: bytes, replica_id: str) -> bytes:
    """The rendezvous score of ``replica_id`` for ``key`` (the highest wins)."""
    return hashlib.blake2b(key, digest_size=8, key=replica_id.encode()[:64]).digest()


def home(key: bytes, candidates: Sequence[Candidate]) -> Candidate | None:
    """The replica ``key`` belongs to among ``candidates`` (None when there are none)."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: score(key, c.id))


def rank(
    key: bytes | None, candidates: Sequence[Candidate], *, slack: int = DEFAULT_SLACK
) -> tuple[list[list[Candidate]], bool]:
    """``candidates`` in the order to try them (groups, best first; within a group the router
    takes the least loaded that has room), and whether the home replica was put first.
    Without a key (a request with no text), every replica is in one group."""
    if not candidates:
        return [], False
    by_load = sorted(candidates, key=lambda c: (c.known_load, c.id))
    if key is None:
        return [by_load], False
    chosen = home(key, candidates)
    assert chosen is not None
    if chosen.known_load > by_load[0].known_load + slack:
        return [by_load], False
    rest = [c for c in by_load if c.id != chosen.id]
    return ([[chosen], rest] if rest else [[chosen]]), True
