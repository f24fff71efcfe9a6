"""Ollama's ``/api/pull`` and ``/api/delete`` on ``hearth serve``: fetching a model into
hearth's store (with Ollama's progress lines) and deleting one from it.

A pull takes what ``hearth pull`` takes: a catalogue name or alias (the built-in models and the
config's ``[[models]]``; a ``local:`` prefix and Ollama's ``:latest`` tag are dropped), a config
alias for one, or ``hf:ORG/REPO/FILE.gguf``. It runs :meth:`ModelStore.pull` on a worker
thread and reports its phases as Ollama does: ``pulling manifest``, then one status per phase
(downloading, extracting, verifying — the file's SHA-256 as ``digest``, with ``total`` and
``completed`` bytes where the phase knows its size), then the end. The server serves only the
models it was started with: the last status is ``success`` when the pulled model is one of
them, and otherwise says that the file is in the store and that the server must be restarted
with ``--model`` to serve it. A failure is Ollama's error line (or, unstreamed, its error).

A delete removes a model's file from hearth's store. It refuses a model the server is serving,
a Hugging Face model (hearth never deletes from the Hugging Face cache) and a path model;
a model that is not in the store is a 404.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.to_thread

from hearth.backends.registry import split_model_string
from hearth.catalog.entries import CatalogEntry, HFSource, builtin_catalog
from hearth.catalog.hf_cache import hf_entry, is_hf_spec, parse_hf_spec
from hearth.catalog.store import ModelStore
from hearth.errors import InvalidRequestError, ModelNotFoundError
from hearth.messages import JsonObject
from hearth.server.handling import ServerState
from hearth.server.served import Served
from hearth.wire.ollama.models import pull_line

PROGRESS_EVERY = 0.25
"""Seconds between two progress lines of one phase (its first and last are always sent)."""


def find_entry(state: ServerState, name: str) -> CatalogEntry:
    """The catalogue entry ``name`` stands for; ModelNotFoundError (404) if none does."""
    config = state.config
    spec = name.strip()
    target = config.alias_target(spec) if config is not None else None
    if target is not None and split_model_string(target)[0] in ("local", "hf"):
        spec = target
    spec = spec.removeprefix("local:")
    catalog = config.catalog() if config is not None else builtin_catalog()
    entry = catalog.lookup(spec)
    if entry is None and is_hf_spec(spec):
        entry = hf_entry(parse_hf_spec(spec))
    if entry is None:
        known = catalog.names()
        raise ModelNotFoundError(
            f"{name!r} is not a model hearth can pull: give a catalogue name "
            f"({', '.join(known)}) or hf:ORG/REPO/FILE.gguf",
            model=name,
            known=known,
        )
    return entry


def serving(state: ServerState, entry: CatalogEntry) -> Served | None:
    """The served model whose file ``entry`` names, if the server serves it."""
    for served in state.router.served:
        own = getattr(served.backend, "entry", None)
        if isinstance(own, CatalogEntry) and own.source == entry.source:
            return served
    return None


def _store(state: ServerState) -> ModelStore:
    return state.store if state.store is not None else ModelStore()


class _LineProgress:
    """A :class:`~hearth.catalog.progress.Progress` that turns phases into pull lines and hands
    them to ``emit`` (called on the worker thread), at most one per phase every
    :data:`PROGRESS_EVERY` seconds but the first and last."""

    def __init__(self, emit: Callable[[JsonObject], None], digest: str | None) -> None:
        self._emit = emit
        self._digest = digest
        self._status = ""
        self._total: int | None = None
        self._done = 0
        self._sent = 0.0

    def start(self, description: str, total: int | None) -> None:
        self._status, self._total, self._done = description, total, 0
        self._send()

    def advance(self, n: int) -> None:
        self._done += n
        if time.monotonic() - self._sent >= PROGRESS_EVERY:
            self._send()

    def finish(self) -> None:
        if self._total is not None:
            self._done = self._total
        self._send()

    def _send(self) -> None:
        self._sent = time.monotonic()
        digest = self._digest if self._total is not None else None
        self._emit(pull_line(self._status, digest=digest, total=self._total, completed=self._done))


async def pull_lines(state: ServerState, entry: CatalogEntry) -> AsyncGenerator[JsonObject, None]:
    """Pull ``entry`` (from :func:`find_entry`) into the store; yields Ollama's status lines and
    raises what the pull raised. If the consumer stops (the client went), the worker thread's
    next progress report fails and the pull stops, leaving no partial file."""
    store = _store(state)
    digest = f"sha256:{entry.sha256}" if entry.sha256 else None
    send, receive = anyio.create_memory_object_stream[JsonObject](max_buffer_size=math.inf)
    yield pull_line("pulling manifest")
    path: list[Path] = []
    failed: list[Exception] = []

    def emit(line: JsonObject) -> None:
        anyio.from_thread.run_sync(send.send_nowait, line)

    def pull() -> Path:
        return store.pull(entry, _LineProgress(emit, digest))

    async def work() -> None:
        async with send:  # closing it ends the loop below, on success or failure
            try:
                path.append(await anyio.to_thread.run_sync(pull, abandon_on_cancel=True))
            except Exception as exc:  # raised below, not wrapped in an ExceptionGroup
                failed.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(work)
        async with receive:
            async for line in receive:
                yield line
    if failed:
        raise failed[0]
    yield pull_line(_outcome(state, entry, path[0]))


def _outcome(state: ServerState, entry: CatalogEntry, path: Path) -> str:
    if serving(state, entry) is not None:
        return "success"
    spec = entry.source.spec if isinstance(entry.source, HFSource) else f"local:{entry.name}"
    served = ", ".join(s.id for s in state.router.served)
    return (
        f"pulled {entry.name} into {path}, but this server serves only the models it was "
        f"started with ({served}); restart it with --model {spec} to serve {entry.name}"
    )


async def delete(state: ServerState, name: str) -> None:
    """Delete ``name``'s file from the store (see the module docstring for what is refused)."""
    entry = find_entry(state, name)
    served = serving(state, entry)
    if served is not None:
        raise InvalidRequestError(
            f"{name!r} is being served by this server (as {served.id}); stop the server "
            "before deleting its file"
        )
    store = _store(state)
    removed = await anyio.to_thread.run_sync(store.remove, entry)
    if not removed:
        raise ModelNotFoundError(
            f"{entry.name} is not in hearth's store ({store.path_for(entry)})", model=name
        )
