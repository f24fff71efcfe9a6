"""A served model, as the server's parts share it: its names and backend (the router finds it by
name), its slots (admission) and its residency (which models are in memory)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hearth.backends.base import Backend
from hearth.server.admission import Admission


@dataclass
class Resident:
    """One model's residency: requests holding it, when it was last used and when it expires
    (``time.monotonic()``; None: never), whether it is draining, and its memory in bytes."""

    in_use: int = 0
    last_used: float = 0.0
    expires_at: float | None = None
    draining: bool = False
    memory: int = 0
    stop_requested: bool = False
    """``hearth stop`` (or keep_alive 0 with no request) came while requests held it: it
    unloads when the last one ends, whatever keep_alive they asked for."""


@dataclass(eq=False)
class Served:
    """One served model: its public id, the names that reach it, its backend and its slots."""

    id: str
    names: frozenset[str]
    backend: Backend
    admission: Admission
    loaded: bool = False
    load_error: str | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    resident: Resident = field(default_factory=Resident)
