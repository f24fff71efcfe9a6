"""Prometheus metrics, on a registry that belongs to one app (no process-wide state).

prometheus_client writes the text exposition format (histogram buckets, ``# HELP``/``# TYPE``,
label escaping) so the server does not hand-roll it; gauges read the admission state when
scraped, so they can never drift from it.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
_TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Metrics:
    """The server's counters, gauges and histograms."""

    def __init__(self, queue_depth: Callable[[], float], active: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Gauge("hearth_queue_depth", "Requests waiting for a model slot.", registry=r).set_function(
            queue_depth
        )
        Gauge(
            "hearth_active_requests", "Requests holding a model slot (generating).", registry=r
        ).set_function(active)
        self.tokens = Counter(
            "hearth_tokens_generated", "Output tokens generated.", ["model"], registry=r
        )
        self.prompt_tokens = Counter(
            "hearth_prompt_tokens", "Prompt tokens processed.", ["model"], registry=r
        )
        self.drafted = Counter(
            "hearth_draft_tokens", "Tokens drafted by speculative decoding.", ["model"],
            registry=r,
        )  # fmt: skip
        self.accepted = Counter(
            "hearth_draft_accepted_tokens", "Drafted tokens that verification kept.", ["model"],
            registry=r,
        )  # fmt: skip
        self.requests = Counter(
            "hearth_requests", "Finished requests by API and HTTP status.", ["api", "status"],
            registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "hearth_rejected", "Requests refused because the queue was full.", registry=r
        )
        self.ttft = Histogram(
            "hearth_time_to_first_token_seconds", "Seconds from request to first output.",
            ["model"], buckets=_TTFT_BUCKETS, registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "hearth_request_duration_seconds", "Seconds from request to last byte.",
            ["model"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

        self.loads = Counter("hearth_model_loads", "Models loaded.", ["model"], registry=r)
        self.unloads = Counter(
            "hearth_model_unloads", "Models unloaded, by reason (expired, make room, "
            "keep_alive, stop).", ["model", "reason"], registry=r,
        )  # fmt: skip
        self.load_seconds = Histogram(
            "hearth_model_load_seconds", "Seconds to load a model.", ["model"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip

    def watch_residency(self, loaded: Callable[[], float], memory: Callable[[], float]) -> None:
        """Gauges of the loaded models and their memory, read when scraped."""
        r = self.registry
        Gauge("hearth_loaded_models", "Local models in memory.", registry=r).set_function(loaded)
        Gauge(
            "hearth_loaded_model_bytes", "Memory of the loaded local models (llama.cpp's "
            "figures: weights and KV cache).", registry=r,
        ).set_function(memory)  # fmt: skip

    def render(self) -> bytes:
        return generate_latest(self.registry)
