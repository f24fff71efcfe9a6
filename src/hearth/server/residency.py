"""Which local models are in memory: loaded on first request, kept for a ``keep_alive``, and
unloaded, least recently used first, to stay within ``max_loaded`` models and a memory budget.

Every request holds its model (:meth:`Residency.hold`) from the moment it has a slot until its
last byte: a held model is never unloaded under it. When a model must load and there is no room,
the least recently used others are marked *draining*: they take no new request, and each is
unloaded once its running requests finish; then the model loads. A request that cannot get its
model loaded before its deadline gets :class:`~hearth.errors.OverloadedError` (429). After a
request, its model stays loaded for the request's ``keep_alive`` (Ollama's: seconds, None for
ever, 0 to unload at once), else the server's; :meth:`Residency.reap` unloads the expired ones.

Memory is llama.cpp's figure for a loaded model (weights plus KV cache,
:class:`hearth.accelerator.Placement`); before its first load, its file's size. Models whose
backend cannot load or unload (remote ones, test doubles) are always resident and cost nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from hearth.errors import InvalidRequestError, ModelUnavailableError, OverloadedError

if TYPE_CHECKING:
    from hearth.server.metrics import Metrics
    from hearth.server.router import Served

log = logging.getLogger("hearth.server")
MIB = 1024 * 1024
REAP_INTERVAL = 0.5


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


def machine_memory() -> int:
    """Memory this machine has for models: MemAvailable (Linux), else its physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):  # pragma: no cover - not POSIX
        return 0


def swappable(served: Served) -> bool:
    """Whether the server loads and unloads this model (a local model does)."""
    backend = served.backend
    return callable(getattr(backend, "load", None)) and callable(getattr(backend, "unload", None))


class Residency:
    """The loaded models of one server, within its limits (see the module docstring)."""

    def __init__(
        self,
        served: list[Served],
        *,
        max_loaded: int | None = None,
        memory_budget: int | None = None,
        keep_alive: float | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.served = served
        self.max_loaded = max_loaded
        self.memory_budget = memory_budget if memory_budget is not None else machine_memory()
        self.keep_alive = keep_alive
        self.metrics = metrics
        self.clock = clock
        self._lock: anyio.Lock | None = None
        self._changed: anyio.Event | None = None
        self.preloaded = False
        """Set once :meth:`preload` has run: the models it left out load on demand."""

    # -- bookkeeping ---------------------------------------------------------------------------

    def _load_lock(self) -> anyio.Lock:
        if self._lock is None:  # made on first use, inside the server's event loop
            self._lock = anyio.Lock()
        return self._lock

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = anyio.Event()

    async def _wait(self, deadline: float, why: str) -> None:
        """Wait for a change (a request finished, a model loaded or unloaded) until
        ``deadline``; OverloadedError (429) after it."""
        if self._changed is None:
            self._changed = anyio.Event()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OverloadedError(
                f"{why}; retry after a few seconds (hearth serve --max-loaded-models and "
                "--memory-budget say how many models may be loaded at once)",
                retry_after=2.0,
            )
        with anyio.move_on_after(remaining):
            await self._changed.wait()

    def loaded(self) -> list[Served]:
        return [s for s in self.served if swappable(s) and s.loaded]

    @property
    def used_memory(self) -> int:
        return sum(s.resident.memory for s in self.loaded())

    def estimate(self, served: Served) -> int:
        estimate = getattr(served.backend, "memory_estimate", None)
        value = estimate() if callable(estimate) else 0
        return value if isinstance(value, int) else 0

    # -- holding a model for a request -----------------------------------------------------

    @asynccontextmanager
    async def hold(
        self, served: Served, deadline: float, keep_alive: float | bool | None = True
    ) -> AsyncIterator[None]:
        """Keep ``served`` loaded (loading it first) for the block. ``keep_alive``: seconds it
        stays after, None for ever, True for the server's default."""
        if swappable(served):
            await self._ensure(served, deadline)
        state = served.resident
        state.in_use += 1
        try:
            yield
        finally:
            state.in_use -= 1
            now = self.clock()
            state.last_used = now
            keep = self.keep_alive if keep_alive is True else keep_alive
            if state.stop_requested:
                keep = 0
            state.expires_at = None if keep is None else now + float(keep)
            idle = state.in_use == 0 and not state.draining  # a draining one is being unloaded
            if keep == 0 and idle and swappable(served) and served.loaded:
                with anyio.CancelScope(shield=True):
                    await self.unload(served, "keep_alive")
            self._notify()

    async def _ensure(self, served: Served, deadline: float) -> None:
        while True:
            state = served.resident
            if served.loaded and not state.draining:
                return
            if state.draining:
                await self._wait(deadline, f"{served.id} is being unloaded to make room")
                continue
            lock = self._load_lock()
            with anyio.move_on_after(max(0.0, deadline - time.monotonic())):
                async with lock:
                    if not served.loaded:
                        await self._make_room(served, deadline)
                        await self._load(served)
                        await self._trim(served)
                    continue
            await self._wait(deadline, f"no room to load {served.id} in time")

    async def _make_room(self, served: Served, deadline: float) -> None:
        """Unload the least recently used other models until ``served`` fits, waiting for
        their running requests to finish (they take no new ones meanwhile)."""
        need = self.estimate(served)
        if need > self.memory_budget:
            raise ModelUnavailableError(
                f"{served.id} needs about {need / MIB:.0f} MiB, more than the server's memory "
                f"budget of {self.memory_budget / MIB:.0f} MiB (hearth serve --memory-budget)"
            )
        victims = self._victims(served, need)
        for victim in victims:
            victim.resident.draining = True
        try:
            for victim in victims:
                while victim.resident.in_use > 0:
                    await self._wait(deadline, f"no room to load {served.id} in time")
                await self.unload(victim, "make room")
        finally:
            for victim in victims:
                victim.resident.draining = False
            self._notify()

    async def _trim(self, served: Served) -> None:
        """Once ``served`` is loaded (and llama.cpp's figure for it is known, which may be more
        than its file), unload idle others, least recently used first, until within budget."""
        for victim in self._victims(served, self.estimate(served)):
            if victim.resident.in_use == 0 and not victim.resident.draining:
                await self.unload(victim, "make room")

    def _victims(self, served: Served, need: int) -> list[Served]:
        """The others to unload, least recently used (idle first) until ``need`` fits."""
        others = sorted(
            (s for s in self.loaded() if s is not served),
            key=lambda s: (s.resident.in_use > 0, s.resident.last_used),
        )
        count, used = len(others), sum(s.resident.memory for s in others)
        victims: list[Served] = []
        for victim in others:
            fits_count = self.max_loaded is None or count + 1 <= self.max_loaded
            if fits_count and used + need <= self.memory_budget:
                break
            victims.append(victim)
            count, used = count - 1, used - victim.resident.memory
        return victims

    async def _load(self, served: Served) -> None:
        started = time.monotonic()
        load = getattr(served.backend, "load")  # noqa: B009 - swappable() checked it
        with anyio.CancelScope(shield=True):  # the thread runs to its end: so does the record
            await anyio.to_thread.run_sync(load)
        seconds = time.monotonic() - started
        served.loaded = True
        served.resident.memory = self.estimate(served)
        served.resident.last_used = self.clock()
        if self.metrics is not None:
            self.metrics.loads.labels(served.id).inc()
            self.metrics.load_seconds.labels(served.id).observe(seconds)
        log.info("loaded %s (%.1f s, %.0f MiB)", served.id, seconds, served.resident.memory / MIB)
        self._notify()

    async def unload(self, served: Served, reason: str) -> None:
        """Unload an idle ``served`` (its requests have finished)."""
        if not served.loaded:
            return  # unloaded already (a make-room victim whose last request had keep_alive 0)
        unload = getattr(served.backend, "unload")  # noqa: B009 - swappable() checked it
        state = served.resident
        draining, state.draining = state.draining, True
        try:
            with anyio.CancelScope(shield=True):  # the thread runs to its end: so does the record
                await anyio.to_thread.run_sync(unload)
                served.loaded = False
                state.expires_at = None
                state.stop_requested = False
        finally:
            state.draining = draining  # make-room and resize keep theirs until they are done
        if self.metrics is not None:
            self.metrics.unloads.labels(served.id, reason).inc()
        log.info("unloaded %s (%s)", served.id, reason)
        self._notify()

    async def grow(self, served: Served, n_ctx: int, deadline: float) -> None:
        """Give ``served`` a window of at least ``n_ctx`` tokens: if it has a smaller one, it
        is unloaded once its running requests finish (taking no new ones meanwhile) and loads
        again, on its next request, with ``n_ctx``. Never shrinks a window."""
        backend = served.backend
        window = getattr(backend, "window", None)
        resize = getattr(backend, "resize", None)
        if not (swappable(served) and callable(window) and callable(resize)):
            return
        if await anyio.to_thread.run_sync(window) >= n_ctx:
            return
        trained = getattr(backend, "trained_context", None)
        most = await anyio.to_thread.run_sync(trained) if callable(trained) else None
        if isinstance(most, int) and n_ctx > most:
            raise InvalidRequestError(
                f"options.num_ctx: {n_ctx} is more than the {most} tokens {served.id} was "
                f"trained on; ask for at most {most}"
            )
        async with self._load_lock():
            if await anyio.to_thread.run_sync(window) >= n_ctx:
                return
            if served.loaded:
                served.resident.draining = True
                try:
                    while served.resident.in_use > 0:
                        await self._wait(deadline, f"{served.id} is busy: no time to resize it")
                    await self.unload(served, "resize")
                finally:
                    served.resident.draining = False
            await anyio.to_thread.run_sync(resize, n_ctx)
            log.info("%s will load with a window of %d tokens", served.id, n_ctx)

    async def stop(self, served: Served) -> None:
        """``hearth stop`` / keep_alive 0 with no request: unload once its requests finish."""
        if not (swappable(served) and served.loaded):
            return
        served.resident.expires_at = self.clock()
        if served.resident.in_use == 0:
            await self.unload(served, "stop")
        else:  # the last request to end unloads it (see hold)
            served.resident.stop_requested = True

    # -- startup and expiry --------------------------------------------------------------------

    async def preload(self) -> None:
        """Load, in order, the models that fit without unloading another (the first always
        tries); the others load on their first request. A failure is recorded on the model."""
        for served in self.served:
            if not swappable(served) or served.loaded:
                continue
            full = self.max_loaded is not None and len(self.loaded()) >= self.max_loaded
            if full or self.used_memory + self.estimate(served) > self.memory_budget:
                continue
            try:
                await self._load(served)
            except Exception as exc:  # /ready reports it; requests for the model get it
                served.load_error = f"{type(exc).__name__}: {exc}"
                log.error("loading %s failed: %s", served.id, exc)
                continue
            if self.used_memory > self.memory_budget:  # loaded, it takes more than its file
                await self.unload(served, "over budget")
                continue
            if self.keep_alive is not None:
                served.resident.expires_at = self.clock() + self.keep_alive
        self.preloaded = True

    async def reap(self) -> None:
        """Unload the idle models whose keep_alive has passed, for ever (a background task)."""
        while True:
            await anyio.sleep(REAP_INTERVAL)
            now = self.clock()
            for served in self.loaded():
                state = served.resident
                expired = state.expires_at is not None and state.expires_at <= now
                if expired and state.in_use == 0 and not state.draining:
                    await self.unload(served, "expired")

    def expires_in(self, served: Served) -> float | None:
        """Seconds until ``served`` is unloaded when idle (None: never)."""
        at = served.resident.expires_at
        return None if at is None else max(0.0, at - self.clock())
