"""Ray Serve's request router with prefix affinity (:mod:`hearth.cluster.affinity`).

Ray Serve calls :meth:`PrefixAffinityRouter.choose_replicas` in the process that holds the
deployment handle (the ingress) for each request to the engine deployment; the request is the
handle call's first argument, a :class:`~hearth.request.ChatRequest`. The ranks it returns are
tried in order: Ray probes each group's replicas for their queue length and sends the request
to the least loaded one that has room (fewer than ``max_ongoing_requests``, the engine's
slots); when none has, it backs off and asks again, and the request waits in the caller's
queue (``max_queued_requests``; past that, 429).
"""

from __future__ import annotations

from typing import Any

from ray.serve.request_router import (
    FIFOMixin,
    PendingRequest,
    RequestRouter,
    RunningReplica,
)

from hearth.backends.routing import affinity_key
from hearth.cluster.affinity import DEFAULT_SLACK, Candidate, rank
from hearth.request import ChatRequest


class PrefixAffinityRouter(FIFOMixin, RequestRouter):
    """Prefix affinity, falling back to the least loaded replica. ``slack`` (a request router
    kwarg): how many more requests the home replica may hold than the least loaded one."""

    slack = DEFAULT_SLACK

    def initialize_state(self, **kwargs: Any) -> None:
        self.slack = int(kwargs.get("slack", DEFAULT_SLACK))

    async def choose_replicas(
        self,
        candidate_replicas: list[RunningReplica],
        pending_request: PendingRequest | None = None,
    ) -> list[list[RunningReplica]]:
        key = None
        if pending_request is not None and pending_request.args:
            first = pending_request.args[0]
            if isinstance(first, ChatRequest):
                key = affinity_key(first)
        cache = self.replica_queue_len_cache
        by_id = {r.replica_id.unique_id: r for r in candidate_replicas}
        candidates = [
            Candidate(r.replica_id.unique_id, cache.get(r.replica_id)) for r in candidate_replicas
        ]
        ranks, _ = rank(key, candidates, slack=self.slack)
        if pending_request is not None:
            pending_request.routing_context.should_backoff = True  # all full: wait, then retry
        return [[by_id[c.id] for c in group] for group in ranks]
