"""What crosses from an engine replica to the ingress besides stream events.

A replica's stream starts with a :class:`ReplicaTag` (which replica took the request), then
the backend's :class:`~hearth.events.StreamEvent` objects. A hearth error is sent as a
:class:`RemoteFailure` item rather than raised: Ray would pickle the exception, and hearth's
errors take keyword arguments that pickling drops (``ModelNotFoundError(message, model=…)``),
so the ingress could not rebuild them. :func:`from_remote` gives back an error of the same
class, message and attributes, which the server then answers with its usual status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hearth import errors
from hearth.errors import HearthError

_PLAIN = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class ReplicaTag:
    """The first item of every stream: the id of the replica that serves it."""

    replica: str


@dataclass(frozen=True, slots=True)
class RemoteFailure:
    """A hearth error raised on a replica: its class name in :mod:`hearth.errors`, message,
    and its plain attributes (``retry_after``, ``status_code`` …)."""

    kind: str
    message: str
    attributes: dict[str, object] = field(default_factory=dict)


def to_remote(exc: HearthError) -> RemoteFailure:
    """``exc`` as plain data."""
    attributes = {k: v for k, v in vars(exc).items() if _plain(v)}
    return RemoteFailure(type(exc).__name__, str(exc), attributes)


def from_remote(failure: RemoteFailure) -> HearthError:
    """The error ``failure`` describes (a bare HearthError for a class hearth does not have)."""
    cls = getattr(errors, failure.kind, None)
    if not (isinstance(cls, type) and issubclass(cls, HearthError)):
        cls = HearthError
    exc = cls.__new__(cls)
    Exception.__init__(exc, failure.message)
    for name, value in failure.attributes.items():
        setattr(exc, name, value)
    return exc


def _plain(value: object) -> bool:
    if isinstance(value, list | tuple):
        return all(isinstance(v, _PLAIN) for v in value)
    return isinstance(value, _PLAIN)
