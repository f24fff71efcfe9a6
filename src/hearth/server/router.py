"""Which backend serves a request: the model name it gives, matched against the served models.

A served model answers to the string it was given (``local:smollm2``, an alias such as ``fast``),
to what that resolves to through the config's ``[aliases]``, to every alias whose target it is,
and to its bare name (``smollm2``), case-insensitively; Gemini's ``models/`` prefix is ignored.
Any other name is a :class:`ModelNotFoundError` (404): the server never falls back to another
model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from hearth.accelerator import OPTION_NAMES
from hearth.backends.base import Backend
from hearth.backends.registry import create_backend, split_model_string
from hearth.config.schema import Config
from hearth.errors import HearthError, ModelNotFoundError
from hearth.server.admission import Admission
from hearth.server.residency import swappable
from hearth.server.served import Served
from hearth.server.settings import (
    DEFAULT_LOCAL_PARALLEL,
    DEFAULT_REMOTE_PARALLEL,
    ServerSettings,
)

MAX_ENGINE_SLOTS = 32
# the CLI's --n-ctx / --n-threads and accelerator flags (--gpu-layers, --cache-type-k …)
LOCAL_ONLY_OPTIONS = frozenset({"n_ctx", "n_threads", "draft_model", *OPTION_NAMES})


def _names(given: str, spec: str, config: Config) -> frozenset[str]:
    names = {given, spec, split_model_string(spec)[1], split_model_string(given)[1]}
    names |= {alias for alias, target in config.aliases.items() if target in (given, spec)}
    return frozenset(n.lower() for n in names if n)


class ModelRouter:
    """The served models, by name. ``on_demand``: makes a served model for a name the server
    allows but does not serve yet (``hearth serve --any-model``); None when it serves only
    its list. ``on_add`` is told of each model made so."""

    def __init__(
        self, served: list[Served], on_demand: Callable[[str], Served | None] | None = None
    ) -> None:
        self.served = served
        self.on_demand = on_demand
        self.on_add: Callable[[Served], None] | None = None
        self._lock = threading.Lock()

    def get(self, name: str) -> Served:
        wanted = name.strip().lower().removeprefix("models/")
        with self._lock:
            for item in self.served:
                if wanted in item.names:
                    return item
            made = self.on_demand(name.strip().removeprefix("models/")) if self.on_demand else None
            if made is not None:
                return self._add(made, wanted)
        known = [s.id for s in self.served]
        raise ModelNotFoundError(
            f"model {name!r} is not served here; this server serves {', '.join(known)}",
            model=name,
            known=known,
        )

    def _add(self, made: Served, wanted: str) -> Served:
        """``made`` served from now on, unless it is a model served already under another
        name (an alias): then that one, answering to ``wanted`` too."""
        for item in self.served:
            if made.id.lower() in item.names:
                made.backend.close()
                item.names = item.names | {wanted}
                return item
        self.served.append(made)
        if self.on_add is not None:
            self.on_add(made)
        return made

    @property
    def queue_depth(self) -> int:
        return sum(s.admission.waiting for s in self.served)

    @property
    def active(self) -> int:
        return sum(s.admission.active for s in self.served)

    def load(self) -> None:
        """Load every model that loads but that the server does not swap in and out (those
        load through :class:`~hearth.server.residency.Residency`); marks each ready or records
        its error. One model failing does not stop the others loading; the first failure is
        raised at the end."""
        first: Exception | None = None
        for item in self.served:
            if swappable(item):
                continue
            load = getattr(item.backend, "load", None)
            try:
                if callable(load):
                    load()
            except Exception as exc:  # reported by /ready and to every request for it
                item.load_error = f"{type(exc).__name__}: {exc}"
                first = first or exc
                continue
            item.loaded = True
        if first is not None:
            raise first

    def close(self) -> None:
        for item in self.served:
            item.backend.close()


def build_router(
    settings: ServerSettings, config: Config, backends: Mapping[str, Backend] | None = None
) -> ModelRouter:
    """The router for ``settings.models``; ``backends`` (name → backend) replaces building them
    from the registry (tests pass FakeBackends here)."""
    served: list[Served] = []
    specs = [(given, config.resolve_model(given)) for given in settings.models]
    any_local = any(_is_local(spec) for _, spec in specs) or settings.any_model
    for given, spec in specs:
        if backends is not None and given in backends:
            backend = backends[given]
        else:
            options = _options(spec, settings, any_local)
            backend = create_backend(spec, config=config, **options)
        served.append(_served(given, spec, backend, settings, config))
    if not settings.any_model:
        return ModelRouter(served)

    def on_demand(name: str) -> Served | None:
        """A catalogue or [[models]] name, or an hf: file: a local model the server allows."""
        spec = config.resolve_model(name)
        provider, model = split_model_string(spec)
        if provider == "local":
            try:  # a name only: never a path on the server's disk
                spec = f"local:{config.catalog().find(model).name}"
            except HearthError:
                return None
        elif provider != "hf":
            return None
        backend = create_backend(spec, config=config, **_options(spec, settings, True))
        made = _served(spec, spec, backend, settings, config)
        made.names = made.names | {name.lower()}
        return made

    return ModelRouter(served, on_demand)


def _served(
    given: str, spec: str, backend: Backend, settings: ServerSettings, config: Config
) -> Served:
    admission = Admission(
        parallel=_parallel(settings, spec, backend),
        max_queue=settings.max_queue,
        retry_after=settings.retry_after,
    )
    has_load = callable(getattr(backend, "load", None))
    return Served(given, _names(given, spec, config), backend, admission, loaded=not has_load)


def _is_local(spec: str) -> bool:
    return split_model_string(spec)[0] in ("local", "hf")


def _parallel(settings: ServerSettings, spec: str, backend: Backend) -> int:
    """``settings.parallel``, else what the backend runs at once: a local engine's slots."""
    if settings.parallel is not None:
        return settings.parallel
    slots = getattr(getattr(backend, "options", None), "slots", None)
    if isinstance(slots, int) and slots >= 1:
        return slots
    return DEFAULT_LOCAL_PARALLEL if _is_local(spec) else DEFAULT_REMOTE_PARALLEL


def _options(spec: str, settings: ServerSettings, any_local: bool) -> dict[str, object]:
    options = dict(settings.backend_options)
    if any_local and not _is_local(spec):
        # --n-ctx, --n-threads, --gpu-layers … are for the local models served beside this one
        options = {k: v for k, v in options.items() if k not in LOCAL_ONLY_OPTIONS}
    if _is_local(spec):
        # The server's admission decides who waits; the engine's own queue must never refuse
        # first (slots + waiting + 1 always fit), and its deadline is the server's.
        options.setdefault("max_queue", settings.max_queue + MAX_ENGINE_SLOTS + 1)
        options.setdefault("timeout", settings.timeout)
    return options
