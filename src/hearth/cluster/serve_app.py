"""``hearth serve --ray``: hearth's server as a Ray Serve application.

:func:`build_app` gives the application; :func:`run` starts it on a cluster (what the CLI does).
The application has two kinds of deployment:

* one **engine deployment per served model** (:class:`~hearth.cluster.engine.Engine`): each
  replica owns one engine. ``max_ongoing_requests`` is the engine's slots, so a replica takes
  no more than it decodes at once; more requests wait in the caller's queue
  (``max_queued_requests``: the server's ``max_queue``), where Ray hands each to whichever
  replica frees first, and one past that is refused (429 with ``Retry-After``). Ray's request
  router is :class:`~hearth.cluster.request_router.PrefixAffinityRouter`. With
  ``min_replicas < max_replicas`` Ray Serve autoscales on the requests each replica holds
  (running, plus those waiting for it): the target is the engine's slots, so replicas are
  added when requests queue beyond what the running replicas decode at once;
* the **ingress** (:class:`Ingress`): the very Starlette app ``hearth serve`` runs
  (:func:`hearth.server.create_app`), every route of it, with each model's backend a
  :class:`~hearth.cluster.replica_backend.ReplicaBackend` that forwards to the engine
  replicas. Responses say which replica answered (``x-hearth-replica``), and ``/metrics``
  adds every replica's figures (:mod:`hearth.cluster.replica_stats`) to the ingress's own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hearth.backends.registry import split_model_string
from hearth.cluster.connection import NAMESPACE, check_portable
from hearth.cluster.replica_backend import SERVED_BY, ReplicaBackend
from hearth.cluster.replica_stats import BoardCollector, Entry, ReplicaFigures, StatsBoard
from hearth.errors import InvalidRequestError
from hearth.server.settings import DEFAULT_REMOTE_PARALLEL, ServerSettings

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from hearth.config.schema import Config

log = logging.getLogger("hearth.cluster")
REPLICA_HEADER = b"x-hearth-replica"
LOCAL_ENGINE_SLOTS = 8  # hearth.backends.local.engine.DEFAULT_SLOTS
ENGINE_QUEUE_ROOM = 33  # the engine's own queue never refuses first (server.router's rule)


@dataclass(frozen=True, slots=True)
class RayOptions:
    """How the application runs on the cluster.

    ``min_replicas``/``max_replicas``: engine replicas per model (equal: a fixed number; else
    autoscaled between them); ``engine_cpus``: CPUs Ray reserves for each engine replica
    (default: its ``n_threads``, else 1); ``name``: the Serve application's name;
    ``affinity_slack``: see :data:`hearth.cluster.affinity.DEFAULT_SLACK`."""

    min_replicas: int = 1
    max_replicas: int = 1
    engine_cpus: float | None = None
    name: str = "hearth"
    affinity_slack: int = 2

    def __post_init__(self) -> None:
        if self.min_replicas < 1:
            raise InvalidRequestError(f"replicas: at least 1, got {self.min_replicas}")
        if self.max_replicas < self.min_replicas:
            raise InvalidRequestError(
                f"replicas: the most ({self.max_replicas}) is fewer than the least "
                f"({self.min_replicas}); give MIN:MAX with MIN <= MAX"
            )


def parse_replicas(text: str) -> tuple[int, int]:
    """``"2"`` → (2, 2); ``"1:4"`` → (1, 4) (``--replicas MIN[:MAX]``)."""
    low, _, high = text.partition(":")
    try:
        pair = (int(low), int(high or low))
    except ValueError:
        raise InvalidRequestError(
            f"--replicas: expected a number or MIN:MAX (2, or 1:4), got {text!r}"
        ) from None
    RayOptions(*pair)  # checks the bounds
    return pair


def _is_local(spec: str) -> bool:
    return split_model_string(spec)[0] in ("local", "hf")


def engine_slots(spec: str, settings: ServerSettings) -> int:
    """Requests one replica runs at once: ``--parallel``, else the engine's slots."""
    if settings.parallel is not None:
        return settings.parallel
    slots = settings.backend_options.get("slots")
    if isinstance(slots, int) and slots >= 1:
        return slots
    return LOCAL_ENGINE_SLOTS if _is_local(spec) else DEFAULT_REMOTE_PARALLEL


def engine_options(spec: str, settings: ServerSettings) -> dict[str, object]:
    """The backend options of a replica's engine."""
    options = dict(settings.backend_options)
    if _is_local(spec):
        options.setdefault("slots", engine_slots(spec, settings))
        options.setdefault("max_queue", settings.max_queue + ENGINE_QUEUE_ROOM)
        options.setdefault("timeout", settings.timeout)
    return options


def _scaling(options: RayOptions, slots: int) -> dict[str, Any]:
    if options.min_replicas == options.max_replicas:
        return {"num_replicas": options.min_replicas}
    return {
        "autoscaling_config": {
            "min_replicas": options.min_replicas,
            "initial_replicas": options.min_replicas,
            "max_replicas": options.max_replicas,
            "target_ongoing_requests": slots,
        }
    }


def build_app(
    settings: ServerSettings, config: Config | None = None, options: RayOptions | None = None
) -> Any:
    """The Ray Serve application of ``settings`` (a ``ray.serve.Application``; run it with
    ``serve.run(app, route_prefix="/")``)."""
    from ray import serve
    from ray.serve.config import RequestRouterConfig

    from hearth.cluster.engine import Engine
    from hearth.cluster.request_router import PrefixAffinityRouter

    if config is None:
        from hearth.config import load_config

        config = load_config()
    options = options or RayOptions()
    check_portable(config)
    board = (f"hearth-stats-{options.name}", NAMESPACE)
    engines: dict[str, Any] = {}
    for i, given in enumerate(settings.models):
        spec = config.resolve_model(given)
        slots = engine_slots(spec, settings)
        backend_options = engine_options(spec, settings)
        threads = backend_options.get("n_threads")
        cpus = options.engine_cpus
        if cpus is None:
            cpus = float(threads) if isinstance(threads, int) and _is_local(spec) else 1.0
        deploy: Any = serve.deployment
        deployment = deploy(
            Engine,
            name=f"engine-{i}",
            ray_actor_options={"num_cpus": cpus},
            max_ongoing_requests=slots,
            max_queued_requests=max(settings.max_queue, 1),
            request_router_config=RequestRouterConfig(
                request_router_class=PrefixAffinityRouter,  # type: ignore[arg-type]
                request_router_kwargs={"slack": options.affinity_slack},
            ),
            **_scaling(options, slots),
        )
        engines[given] = deployment.bind(given, spec, config, backend_options, board)
    most = options.max_replicas * max(engine_slots(config.resolve_model(m), settings)
                                      for m in settings.models)  # fmt: skip
    # The ingress lets every request through to Ray's queue, which is where they wait. The
    # server's key goes to the ingress as text: a Secret never pickles (hearth._secret).
    ingress_settings = replace(settings, parallel=most + settings.max_queue, api_key=None)
    key = settings.api_key.reveal() if settings.api_key is not None else None
    ingress: Any = serve.deployment(
        serve.ingress()(Ingress),
        name="ingress",
        ray_actor_options={"num_cpus": 0},
        max_ongoing_requests=max(1000, 4 * (most + settings.max_queue)),
    )
    return ingress.bind(ingress_settings, config, engines, board, key)


class BoardActor:
    """The stats board as a Ray actor (one per application, owned by its ingress)."""

    def __init__(self) -> None:
        self.board = StatsBoard()

    def report(self, figures: ReplicaFigures) -> None:
        self.board.report(figures)

    def read(self) -> list[Entry]:
        return self.board.read()


class Ingress:
    """The ingress deployment: hearth's Starlette app over the engine deployments' handles."""

    async def __init__(  # type: ignore[misc]  # Ray Serve awaits an async constructor
        self,
        settings: ServerSettings,
        config: Config,
        engines: dict[str, Any],
        board: tuple[str, str],
        api_key: str | None = None,
    ) -> None:
        import ray

        from hearth._secret import Secret
        from hearth.server import create_app

        if api_key is not None:
            settings = replace(settings, api_key=Secret(api_key))

        backends = {}
        for name, handle in engines.items():
            capabilities = await handle.capabilities.remote()
            limits = await handle.input_limits.remote()
            backends[name] = ReplicaBackend(name, handle, capabilities, limits)
        self._entries: list[Entry] = []
        actor: Any = ray.remote(num_cpus=0)(BoardActor)
        self._board = actor.options(name=board[0], namespace=board[1], get_if_exists=True).remote()
        self._hearth = create_app(settings, config=config, backends=backends)
        self._hearth.state.hearth.metrics.registry.register(BoardCollector(lambda: self._entries))
        self._refresh = asyncio.get_running_loop().create_task(self._read_board())

    async def _read_board(self) -> None:
        while True:
            try:
                self._entries = await self._board.read.remote()
            except Exception as exc:  # the next read tries again
                log.debug("reading the stats board failed: %s", exc)
            await asyncio.sleep(1.0)

    def __serve_build_asgi_app__(self) -> ASGIApp:
        return ReplicaHeader(self._hearth)


class ReplicaHeader:
    """ASGI middleware: the ``x-hearth-replica`` header names the replica that answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        served: list[str] = []
        token = SERVED_BY.set(served)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and served:
                headers = [*message.get("headers", []), (REPLICA_HEADER, served[-1].encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            SERVED_BY.reset(token)


def run(
    settings: ServerSettings,
    config: Config,
    options: RayOptions,
    *,
    host: str,
    port: int,
    address: str | None = None,
) -> None:
    """Connect to the cluster at ``address`` (None: start one on this machine), deploy the
    application with Ray Serve's HTTP proxy on ``host:port``, and serve until interrupted."""
    from ray import serve

    from hearth.cluster.connection import connect

    connect(address)
    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(settings, config, options), name=options.name, route_prefix="/")
    try:
        asyncio.run(_forever())
    except KeyboardInterrupt:
        pass
    finally:
        serve.delete(options.name)


async def _forever() -> None:
    await asyncio.Event().wait()
