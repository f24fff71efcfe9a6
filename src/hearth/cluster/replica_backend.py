"""The ingress's backend for a model served by engine replicas: each call goes through a Ray
Serve deployment handle to one replica (:mod:`hearth.cluster.engine`), chosen by the
deployment's request router.

* A replica that dies (or is unreachable) **before** it sent anything of the answer: the
  request is sent again, to another replica (up to :data:`TRIES` times in all); a replica's
  queued requests are re-routed so.
* One that dies **after** part of a stream was sent: the stream ends with
  :class:`~hearth.errors.ModelUnavailableError`, which the server sends as the API's error
  event; the client retries.
* Every replica full and the caller's queue full (Ray's ``BackPressureError``):
  :class:`~hearth.errors.OverloadedError`, a 429 with ``Retry-After``.

Which replica served a call is added to :data:`SERVED_BY`'s list when one is set (the ingress
puts it in the ``x-hearth-replica`` response header).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from hearth.backends.base import BackendBase, Capabilities
from hearth.cluster.transport import RemoteFailure, ReplicaTag, from_remote
from hearth.embeddings import Embeddings
from hearth.errors import HearthError, ModelUnavailableError, OverloadedError
from hearth.events import StreamEvent
from hearth.request import ChatRequest, EmbedRequest

if TYPE_CHECKING:
    from hearth.input_limits import InputLimits

TRIES = 3
SERVED_BY: ContextVar[list[str] | None] = ContextVar("hearth_served_by", default=None)


def _replica_gone(exc: BaseException, started: bool, attempt: int) -> HearthError | None:
    """What a Ray error on a call means: None to send the call again elsewhere, else the
    error for the caller. Raises ``exc`` again when it is not Ray's."""
    from ray import exceptions as ray_errors
    from ray.serve.exceptions import BackPressureError

    if isinstance(exc, BackPressureError):
        retry_after = exc.args[3] if len(exc.args) > 3 and exc.args[3] else 1.0
        return OverloadedError(
            f"every replica is busy and {exc.args[0]} requests wait already (the limit is "
            f"{exc.args[1]}); retry after {retry_after:g} s",
            retry_after=float(retry_after),
        )
    gone = (ray_errors.RayActorError, ray_errors.ActorUnavailableError)
    if isinstance(exc, gone):
        if not started and attempt + 1 < TRIES:
            return None
        when = "in the middle of this answer" if started else f"{TRIES} times in a row"
        return ModelUnavailableError(
            f"the replica serving this request stopped {when} ({type(exc).__name__}); "
            "Ray restarts it: send the request again"
        )
    if isinstance(exc, ray_errors.RayError):
        return HearthError(f"the replica failed on this request ({type(exc).__name__}: {exc})")
    raise exc


def _note(replica: str) -> None:
    served = SERVED_BY.get()
    if served is not None:
        served.append(replica)


class ReplicaBackend(BackendBase):
    """A served model whose engines are the replicas behind ``handle``. ``capabilities`` and
    ``limits`` were asked of a replica when the ingress started."""

    def __init__(
        self,
        name: str,
        handle: Any,
        capabilities: Capabilities,
        limits: InputLimits | None = None,
    ) -> None:
        self._name = name
        self._handle = handle
        self._capabilities = capabilities
        self._limits = limits

    @property
    def name(self) -> str:
        return self._name

    def capabilities(self) -> Capabilities:
        return self._capabilities

    def input_limits(self) -> InputLimits | None:
        return self._limits

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._astream(request)

    async def _astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        for attempt in range(TRIES):
            started = ended = False
            stream = self._handle.options(stream=True).astream.remote(request)
            try:
                async for item in stream:
                    event = _event(item)
                    if event is not None:
                        started = True
                        yield event
                ended = True
                return
            except Exception as exc:
                ended = True
                _retry_or_raise(exc, started, attempt)
            finally:
                if not ended:
                    _cancel(stream)

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        for attempt in range(TRIES):
            started = ended = False
            stream = self._handle.options(stream=True).astream.remote(request)
            try:
                for item in stream:
                    event = _event(item)
                    if event is not None:
                        started = True
                        yield event
                ended = True
                return
            except Exception as exc:
                ended = True
                _retry_or_raise(exc, started, attempt)
            finally:
                if not ended:
                    _cancel(stream)

    async def aembed(self, request: EmbedRequest) -> Embeddings:
        for attempt in range(TRIES):
            try:
                replica, result = await self._handle.aembed.remote(request)
            except Exception as exc:
                _retry_or_raise(exc, False, attempt)
                continue
            return _embedded(replica, result)
        raise AssertionError("unreachable: the last try returns or raises")

    def embed(self, request: EmbedRequest) -> Embeddings:
        for attempt in range(TRIES):
            try:
                replica, result = self._handle.aembed.remote(request).result()
            except Exception as exc:
                _retry_or_raise(exc, False, attempt)
                continue
            return _embedded(replica, result)
        raise AssertionError("unreachable: the last try returns or raises")


def _retry_or_raise(exc: Exception, started: bool, attempt: int) -> None:
    """Return when a failed try may be made again on another replica; else raise what the
    caller gets (a hearth error as it is; a replica's death as :func:`_replica_gone` says)."""
    if isinstance(exc, HearthError):
        raise exc
    error = _replica_gone(exc, started, attempt)
    if error is not None:
        raise error from None


def _embedded(replica: str, result: object) -> Embeddings:
    """A replica's answer to an embedding request (noted as served by ``replica``)."""
    _note(replica)
    if isinstance(result, RemoteFailure):
        raise from_remote(result)
    assert isinstance(result, Embeddings)
    return result


def _cancel(stream: Any) -> None:
    """Stop the replica's generation: the caller stopped reading (it went, or it was
    cancelled) before the stream ended."""
    with contextlib.suppress(Exception):
        stream.cancel()


def _event(item: object) -> StreamEvent | None:
    """The stream event ``item`` is; None for the replica's tag (noted); raises a failure."""
    if isinstance(item, ReplicaTag):
        _note(item.replica)
        return None
    if isinstance(item, RemoteFailure):
        raise from_remote(item)
    return item  # type: ignore[return-value]
