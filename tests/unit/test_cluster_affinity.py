"""Prefix affinity on Ray Serve (hearth.cluster.affinity): every turn of a conversation ranks
the same replica first, keys spread over the replicas, a busy home replica yields to the least
loaded, and a replica that goes moves only its own keys."""

from __future__ import annotations

from collections import Counter

from hearth.backends.routing import affinity_key
from hearth.cluster.affinity import Candidate, home, rank
from hearth.messages import Message
from hearth.request import ChatRequest

REPLICAS = [Candidate("a1b2"), Candidate("c3d4"), Candidate("e5f6")]


def conversation(i: int, turns: int) -> ChatRequest:
    messages = [Message.system(f"You are helper {i}."), Message.user(f"Question {i}")]
    for t in range(turns):
        messages += [Message.assistant(f"answer {t}"), Message.user(f"follow-up {t}")]
    return ChatRequest(messages=messages)


def first_choice(key: bytes | None, candidates: list[Candidate]) -> str:
    ranks, _ = rank(key, candidates)
    return ranks[0][0].id


def test_every_turn_of_a_conversation_ranks_the_same_replica_first() -> None:
    for i in range(20):
        keys = {affinity_key(conversation(i, turns)) for turns in range(4)}
        assert len(keys) == 1
        key = keys.pop()
        ranks, affine = rank(key, REPLICAS)
        assert affine and len(ranks) == 2 and len(ranks[0]) == 1
        assert {c.id for c in ranks[1]} == {"a1b2", "c3d4", "e5f6"} - {ranks[0][0].id}


def test_conversations_spread_over_the_replicas() -> None:
    homes = Counter(first_choice(affinity_key(conversation(i, 0)), REPLICAS) for i in range(300))
    assert set(homes) == {"a1b2", "c3d4", "e5f6"}
    assert min(homes.values()) > 60  # about 100 each


def test_a_busy_home_yields_to_the_least_loaded_replica() -> None:
    key = affinity_key(conversation(7, 0))
    assert key is not None
    favourite = home(key, REPLICAS)
    assert favourite is not None
    loads = {c.id: 0 for c in REPLICAS}
    loads[favourite.id] = 2  # within the slack of 2: still first
    busy = [Candidate(c.id, loads[c.id]) for c in REPLICAS]
    assert first_choice(key, busy) == favourite.id
    loads[favourite.id] = 3
    busier = [Candidate(c.id, loads[c.id]) for c in REPLICAS]
    ranks, affine = rank(key, busier)
    assert not affine and len(ranks) == 1
    assert [c.id for c in ranks[0]][-1] == favourite.id  # least loaded first


def test_only_the_keys_of_a_replica_that_goes_move() -> None:
    keys = [affinity_key(conversation(i, 0)) for i in range(200)]
    before = {k: first_choice(k, REPLICAS) for k in keys}
    gone = "c3d4"
    left = [c for c in REPLICAS if c.id != gone]
    after = {k: first_choice(k, left) for k in keys}
    assert all(after[k] == before[k] for k in keys if before[k] != gone)
    assert all(after[k] != gone for k in keys)


def test_without_a_key_the_least_loaded_come_first_and_no_replica_is_none() -> None:
    loads = [Candidate("x", 3), Candidate("y", None), Candidate("z", 1)]
    ranks, affine = rank(None, loads)
    assert [c.id for c in ranks[0]] == ["y", "z", "x"] and not affine
    assert rank(b"key", []) == ([], False)
