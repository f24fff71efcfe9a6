"""Timing of streamed answers, shared by bench/serve.py and bench/throughput.py.

One :class:`Stream` per request records when it was sent, when each piece of text arrived and
how many tokens it produced in all (from the server's own usage, never a count of chunks). A
:class:`LevelStats` summarizes a concurrency level: aggregate output tok/s, time to first token
(p50, p95, queueing included), the p95 gap between two consecutive pieces of text of one stream
(the inter-token gap; a piece may carry several tokens when a consumer fell behind), and the
CPU-seconds the serving process spent per generated token (all its threads, from
``/proc/PID/stat``).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Stream:
    """One streamed request, as the client saw it."""

    sent: float = field(default_factory=time.perf_counter)
    arrivals: list[float] = field(default_factory=list)
    tokens: int = 0

    def piece(self) -> None:
        """A piece of answer text arrived now."""
        self.arrivals.append(time.perf_counter())

    @property
    def ttft(self) -> float:
        return self.arrivals[0] - self.sent if self.arrivals else math.nan

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]


def percentile(xs: list[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100) by linear interpolation; NaN for no data."""
    data = sorted(x for x in xs if not math.isnan(x))
    if not data:
        return math.nan
    k = (len(data) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return data[lo] + (data[hi] - data[lo]) * (k - lo)


def process_cpu(pid: int) -> float:
    """CPU-seconds (user + system, every thread) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class LevelStats:
    side: str
    clients: int
    requests: int
    tokens: int
    seconds: float
    tok_per_s: float
    ttft_p50: float
    ttft_p95: float
    gap_p95: float
    cpu_per_token: float
    errors: int

    @classmethod
    def of(
        cls, side: str, clients: int, streams: list[Stream], seconds: float, cpu: float, errors: int
    ) -> LevelStats:
        tokens = sum(s.tokens for s in streams)
        ttfts = [s.ttft for s in streams]
        gaps = [g for s in streams for g in s.gaps()]
        return cls(
            side, clients, len(streams), tokens, seconds, tokens / seconds if seconds else 0.0,
            percentile(ttfts, 50), percentile(ttfts, 95), percentile(gaps, 95),
            cpu / tokens if tokens else math.nan, errors,
        )  # fmt: skip


HEADER = (
    f"{'clients':>7} {'side':>14} {'tok/s':>8} {'TTFT p50':>9} {'TTFT p95':>9} "
    f"{'gap p95':>8} {'CPU ms/tok':>10} {'tokens':>7} {'errors':>6}"
)


def row(x: LevelStats) -> str:
    return (
        f"{x.clients:>7} {x.side:>14} {x.tok_per_s:>8.1f} {x.ttft_p50 * 1000:>7.0f}ms "
        f"{x.ttft_p95 * 1000:>7.0f}ms {x.gap_p95 * 1000:>6.1f}ms {x.cpu_per_token * 1000:>10.2f} "
        f"{x.tokens:>7} {x.errors:>6}"
    )


def ratio_row(ours: LevelStats, theirs: LevelStats) -> str:
    """hearth / reference: tok/s (higher is better), then the rest (lower is better)."""

    def r(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b and not (math.isnan(a) or math.isnan(b)) else "-"

    return (
        f"{'':>7} {'ratio h/ref':>14} {r(ours.tok_per_s, theirs.tok_per_s):>8} "
        f"{r(ours.ttft_p50, theirs.ttft_p50):>9} {r(ours.ttft_p95, theirs.ttft_p95):>9} "
        f"{r(ours.gap_p95, theirs.gap_p95):>8} "
        f"{r(ours.cpu_per_token, theirs.cpu_per_token):>10}   (tok/s target >= 1.0x; "
        "gap p95 <= 1.0x)"
    )


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan
