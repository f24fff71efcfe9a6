"""Each replica's figures, and their sum across the cluster for the ingress's ``/metrics``.

Every engine replica reports its :class:`ReplicaFigures` about once a second to one
:class:`StatsBoard` (a named Ray actor per application, :mod:`hearth.cluster.serve_app`); the
ingress reads the board and adds :func:`families` to the Prometheus text of its own registry
(:class:`BoardCollector`). A replica that has not reported for :data:`STALE_AFTER` seconds (it
died, or was scaled down) no longer counts as live, but what it served still counts in the
totals, so counters never go backwards when a replica goes. Pure code: no Ray here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

STALE_AFTER = 10.0
"""Seconds without a report after which a replica is no longer live."""


@dataclass(frozen=True, slots=True)
class ReplicaFigures:
    """One replica's state: requests running now, and the totals since it started."""

    replica: str
    model: str
    active: int = 0
    requests: int = 0
    failed: int = 0
    output_tokens: int = 0
    prompt_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    figures: ReplicaFigures
    live: bool


class StatsBoard:
    """The last report of every replica seen (the state of the board actor)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, tuple[float, ReplicaFigures]] = {}

    def report(self, figures: ReplicaFigures) -> None:
        self._last[figures.replica] = (self._clock(), figures)

    def read(self) -> list[Entry]:
        """Every replica's last figures; a stale one counts no request as running."""
        now = self._clock()
        entries = []
        for at, figures in self._last.values():
            live = now - at <= STALE_AFTER
            entries.append(Entry(figures if live else replace(figures, active=0), live))
        return entries


def families(entries: Iterable[Entry]) -> list[GaugeMetricFamily | CounterMetricFamily]:
    """The Prometheus families of the board: per replica, and summed per model."""
    entries = list(entries)
    labels = ["model", "replica"]
    live = GaugeMetricFamily("hearth_replicas", "Engine replicas reporting.", labels=["model"])
    active = GaugeMetricFamily(
        "hearth_replica_active_requests", "Requests running on each replica.", labels=labels
    )
    counters = {
        name: CounterMetricFamily(f"hearth_replica_{name}", text, labels=labels)
        for name, text in (
            ("requests", "Requests each replica finished."),
            ("failed", "Requests that failed on each replica."),
            ("output_tokens", "Output tokens each replica generated."),
            ("prompt_tokens", "Prompt tokens each replica processed."),
        )
    }
    models = sorted({e.figures.model for e in entries})
    for model in models:
        live.add_metric([model], sum(e.live for e in entries if e.figures.model == model))
    for entry in sorted(entries, key=lambda e: (e.figures.model, e.figures.replica)):
        f = entry.figures
        if entry.live:
            active.add_metric([f.model, f.replica], f.active)
        for name, family in counters.items():
            family.add_metric([f.model, f.replica], getattr(f, name))
    return [live, active, *counters.values()]


def totals(entries: Iterable[Entry]) -> dict[str, ReplicaFigures]:
    """Per model, the sum of every replica's figures (``replica`` is ``"*"``)."""
    summed: dict[str, ReplicaFigures] = {}
    for entry in entries:
        f = entry.figures
        s = summed.get(f.model, ReplicaFigures("*", f.model))
        summed[f.model] = ReplicaFigures(
            "*", f.model, s.active + f.active, s.requests + f.requests, s.failed + f.failed,
            s.output_tokens + f.output_tokens, s.prompt_tokens + f.prompt_tokens,
        )  # fmt: skip
    return summed


class BoardCollector(Collector):
    """A collector for an app's registry that yields the board's families from ``read()``
    (a cached copy the ingress refreshes: collecting never waits on the cluster)."""

    def __init__(self, read: Callable[[], list[Entry]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from families(self._read())

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # families vary with the replicas; nothing to check at registration
