"""The replicas' figures summed for /metrics (hearth.cluster.replica_stats), and hearth's errors
carried from a replica to the ingress (hearth.cluster.transport)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from hearth.cluster.replica_stats import (
    STALE_AFTER,
    BoardCollector,
    ReplicaFigures,
    StatsBoard,
    totals,
)
from hearth.cluster.transport import from_remote, to_remote
from hearth.errors import ModelNotFoundError, OverloadedError, RateLimitError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_board_sums_the_replicas_and_keeps_what_a_dead_one_served() -> None:
    clock = Clock()
    board = StatsBoard(clock)
    board.report(ReplicaFigures("r1", "local:smollm2", active=2, requests=5, output_tokens=50))
    board.report(ReplicaFigures("r2", "local:smollm2", active=1, requests=3, output_tokens=30))
    board.report(ReplicaFigures("r1", "local:smollm2", active=1, requests=6, output_tokens=61))
    summed = totals(board.read())["local:smollm2"]
    assert (summed.active, summed.requests, summed.output_tokens) == (2, 9, 91)

    clock.now += STALE_AFTER + 1
    board.report(ReplicaFigures("r2", "local:smollm2", active=0, requests=4, output_tokens=40))
    entries = {e.figures.replica: e for e in board.read()}
    assert entries["r2"].live and not entries["r1"].live
    assert entries["r1"].figures.active == 0  # a dead replica runs nothing
    summed = totals(entries.values())["local:smollm2"]
    assert (summed.active, summed.requests, summed.output_tokens) == (0, 10, 101)


def test_the_collector_writes_per_replica_and_live_counts_in_prometheus_text() -> None:
    clock = Clock()
    board = StatsBoard(clock)
    board.report(ReplicaFigures("r1", "m", active=1, requests=2, failed=1, prompt_tokens=9))
    board.report(ReplicaFigures("r2", "m", requests=4))
    clock.now += STALE_AFTER + 1
    board.report(ReplicaFigures("r2", "m", requests=5))
    registry = CollectorRegistry()
    registry.register(BoardCollector(board.read))
    text = generate_latest(registry).decode()
    assert 'hearth_replicas{model="m"} 1.0' in text
    assert 'hearth_replica_requests_total{model="m",replica="r1"} 2.0' in text
    assert 'hearth_replica_requests_total{model="m",replica="r2"} 5.0' in text
    assert 'hearth_replica_failed_total{model="m",replica="r1"} 1.0' in text
    assert 'hearth_replica_prompt_tokens_total{model="m",replica="r1"} 9.0' in text
    assert 'hearth_replica_active_requests{model="m",replica="r1"}' not in text  # gone


def test_errors_cross_with_their_class_message_and_attributes() -> None:
    for error in (
        OverloadedError("busy; retry after 2 s", retry_after=2.0),
        ModelNotFoundError("no such model", model="x", known=["a", "b"]),
        RateLimitError("slow down", status_code=429, retry_after=3),
    ):
        back = from_remote(to_remote(error))
        assert type(back) is type(error) and str(back) == str(error)
        assert vars(back) == vars(error)


def test_an_unknown_error_class_arrives_as_a_plain_hearth_error() -> None:
    from hearth.cluster.transport import RemoteFailure
    from hearth.errors import HearthError

    back = from_remote(RemoteFailure("NotAnError", "it broke", {"retry_after": 1}))
    assert type(back) is HearthError and str(back) == "it broke"
