"""``hearth serve``: run the OpenAI-, Anthropic- and Gemini-compatible HTTP server."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hearth._secret import Secret
from hearth.accelerator import AcceleratorOptions
from hearth.cli.accelerator_flags import NO_ACCELERATOR, accelerator_flags
from hearth.errors import InvalidRequestError

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from hearth.config.schema import Config
    from hearth.server import ServerSettings

ENV_API_KEY = "HEARTH_API_KEY"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_WILDCARDS = ("0.0.0.0", "::", "")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


_ModelOpt = Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model to serve (provider:name, alias, catalogue name or .gguf path); repeat "
            "to serve several. Default: the configured default model.",
        ),
    ]
_HostOpt = Annotated[str | None, typer.Option(help="Address to bind. Default 127.0.0.1.")]
_PortOpt = Annotated[int | None, typer.Option(help="Port. Default 8080.")]
_UdsOpt = Annotated[str | None, typer.Option(help="Listen on this Unix socket instead.")]
_MaxQueueOpt = Annotated[
        int | None, typer.Option(help="Requests that may wait per model before 429.")
    ]
_ParallelOpt = Annotated[
        int | None,
        typer.Option(help="Requests run at once per model. Default: the engine's slots."),
    ]
_TimeoutOpt = Annotated[
        float | None, typer.Option(help="Seconds a request may take, waiting included.")
    ]
_ApiKeyOpt = Annotated[
        str | None,
        typer.Option(
            help=f"Key clients must send (Bearer). Also ${ENV_API_KEY}.", show_default=False
        ),
    ]
_CorsOpt = Annotated[
        list[str] | None, typer.Option(help="Allow CORS from this origin (repeatable; * for any).")
    ]
_AllowHostOpt = Annotated[
        list[str] | None,
        typer.Option(
            help="Also answer requests whose Host header names this (repeatable; * for any, "
            "*.example.com for subdomains). Default: loopback names and the bound address.",
        ),
    ]
_ImageUrlAllowOpt = Annotated[
        list[str] | None,
        typer.Option(metavar="HOST", help="Fetch image URLs on this host for requests "
                     "(repeatable). Default: none; images come inline (data: URLs, base64)."),
    ]  # fmt: skip
_ReadTimeoutOpt = Annotated[
        float | None,
        typer.Option(help="Seconds a client has to send a request's headers, then its body."),
    ]
_MaxMessagesOpt = Annotated[
        int | None, typer.Option(help="Most messages in one request. Default: the window's.")
    ]
_MaxMessageBytesOpt = Annotated[
        int | None,
        typer.Option(help="Most bytes of text in one message. Default: the window's."),
    ]
_MaxTextBytesOpt = Annotated[
        int | None,
        typer.Option(help="Most bytes of text in one request. Default: the window's."),
    ]
_NCtxOpt = Annotated[int | None, typer.Option(help="Context window of local models.")]
_NThreadsOpt = Annotated[int | None, typer.Option(help="CPU threads for local models.")]
_MmprojOpt = Annotated[
        str | None,
        typer.Option(metavar="FILE", help="A vision projector GGUF (path or hf:) for the local "
                     "models served. Default: each catalogue or config entry's."),
    ]  # fmt: skip
_DraftModelOpt = Annotated[
        str | None,
        typer.Option(metavar="MODEL", help="A smaller model with the same vocabulary that drafts "
                     "for the served local model (speculative decoding); with several models, "
                     "give each its draft_model in its [[models]] entry instead."),
    ]  # fmt: skip
_MaxLoadedOpt = Annotated[
        int | None,
        typer.Option(help="Local models loaded at once; the least recently used idle one is "
                     "unloaded to make room. Default: as many as the memory budget holds."),
    ]  # fmt: skip
_MemoryBudgetOpt = Annotated[
        str | None,
        typer.Option(metavar="SIZE", help="Memory the loaded local models may take (8GiB, "
                     "512MiB). Default: what the machine has available at start."),
    ]  # fmt: skip
_KeepAliveOpt = Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="How long an idle local model stays loaded (5m, "
                     "300, 0: unload after each request; -1, the default: for ever). A "
                     "request's own keep_alive (Ollama's) wins."),
    ]  # fmt: skip
_AnyModelOpt = Annotated[
        bool,
        typer.Option("--any-model", help="Also serve any catalogue model or config file model, or "
                     "hf:ORG/REPO/FILE.gguf, that a request names (loaded on first request)."),
    ]  # fmt: skip
_GrowContextOpt = Annotated[
        bool,
        typer.Option("--grow-context", help="Reload a local model once with a larger window "
                     "when a request's num_ctx needs it (default: such a request is a 400)."),
    ]  # fmt: skip
_LogLevelOpt = Annotated[str, typer.Option(help="debug, info, warning or error.")]
_WebuiOpt = Annotated[
        bool, typer.Option("--webui/--no-webui", help="Serve the chat page at /.")
    ]
_RayOpt = Annotated[
        bool,
        typer.Option("--ray", help="Serve on a Ray cluster with Ray Serve: engine replicas "
                     "behind this same server (needs the ray extra; see docs/ray.md)."),
    ]  # fmt: skip
_ReplicasOpt = Annotated[
        str,
        typer.Option(metavar="MIN[:MAX]", help="With --ray: engine replicas per model "
                     "(2: two; 1:4: autoscaled between one and four)."),
    ]  # fmt: skip
_RayAddressOpt = Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", help="With --ray: the cluster to join (auto: the one "
                     "this machine is in). Default: start a one-machine cluster here."),
    ]  # fmt: skip
_StoreOpt = Annotated[
        Path | None,
        typer.Option(help="Conversation store of the chat page. Default: hearth's usual one."),
    ]


@accelerator_flags
def serve(
    model: _ModelOpt = None,
    host: _HostOpt = None,
    port: _PortOpt = None,
    uds: _UdsOpt = None,
    max_queue: _MaxQueueOpt = None,
    parallel: _ParallelOpt = None,
    timeout: _TimeoutOpt = None,
    api_key: _ApiKeyOpt = None,
    cors: _CorsOpt = None,
    allow_host: _AllowHostOpt = None,
    image_url_allow: _ImageUrlAllowOpt = None,
    read_timeout: _ReadTimeoutOpt = None,
    max_messages: _MaxMessagesOpt = None,
    max_message_bytes: _MaxMessageBytesOpt = None,
    max_text_bytes: _MaxTextBytesOpt = None,
    n_ctx: _NCtxOpt = None,
    n_threads: _NThreadsOpt = None,
    mmproj: _MmprojOpt = None,
    draft_model: _DraftModelOpt = None,
    accelerator: AcceleratorOptions = NO_ACCELERATOR,
    max_loaded_models: _MaxLoadedOpt = None,
    memory_budget: _MemoryBudgetOpt = None,
    keep_alive: _KeepAliveOpt = None,
    any_model: _AnyModelOpt = False,
    grow_context: _GrowContextOpt = False,
    log_level: _LogLevelOpt = "info",
    webui: _WebuiOpt = True,
    store: _StoreOpt = None,
    ray: _RayOpt = False,
    replicas: _ReplicasOpt = "1",
    ray_address: _RayAddressOpt = None,
) -> None:
    """Serve models over HTTP: a chat page (/), OpenAI (/v1/chat/completions,
    /v1/completions, /v1/embeddings, /v1/models), Anthropic (/v1/messages), Gemini
    (/v1beta/models/M:generateContent), Ollama (/api/chat, /api/generate, /api/embed,
    /api/tags, …), and /health, /ready, /metrics.

    The port is bound before any model loads: a busy port is one error line at once."""
    from hearth.config import load_config
    from hearth.server import ServerSettings

    config = load_config()
    key = api_key or os.environ.get(ENV_API_KEY) or None
    backend_options = _backend_options(
        n_ctx, n_threads, mmproj, accelerator,
        _draft_for_one(draft_model, model or [], any_model) if draft_model is not None else None,
    )  # fmt: skip
    bind_host = host or config.server.host
    settings = ServerSettings.from_config(
        config,
        tuple(model or ()),
        max_queue=max_queue,
        parallel=parallel,
        timeout=timeout,
        api_key=Secret(key) if key else None,
        cors_origins=tuple(cors or ()),
        backend_options=backend_options,
        web_ui=webui,
        store_path=store,
        allowed_hosts=allowed_hosts(allow_host or [], bind_host, uds, has_key=bool(key)),
        read_timeout=read_timeout,
        max_messages=max_messages,
        max_message_bytes=max_message_bytes,
        max_text_bytes=max_text_bytes,
        any_model=any_model,
        grow_context=grow_context,
        image_url_allow=tuple(image_url_allow or ()),
        **_residency(max_loaded_models, memory_budget, keep_alive),
    )
    if log_level.upper() not in _LOG_LEVELS:
        raise InvalidRequestError(f"--log-level must be one of {', '.join(_LOG_LEVELS).lower()}")
    if ray:
        _serve_on_ray(settings, config, bind_host, port, uds, replicas, ray_address)
        return
    _bind_then_serve(
        settings, config, bind_host,
        port if port is not None else config.server.port, uds, log_level,
    )  # fmt: skip


def _serve_on_ray(
    settings: ServerSettings,
    config: Config,
    host: str,
    port: int | None,
    uds: str | None,
    replicas: str,
    address: str | None,
) -> None:
    """``--ray``: the same app on Ray Serve (:mod:`hearth.cluster.serve_app`)."""
    from hearth.cli.ray_extra import require_ray

    if uds is not None:
        raise InvalidRequestError("--uds: Ray Serve listens on TCP only; leave --uds out")
    if settings.any_model:
        raise InvalidRequestError(
            "--any-model: on Ray each served model is a deployment of engine replicas, made "
            "when the server starts; name every model to serve with --model"
        )
    require_ray("hearth serve --ray")
    from hearth.cluster.serve_app import RayOptions, parse_replicas, run

    low, high = parse_replicas(replicas)
    port = port if port is not None else config.server.port
    sys.stdout.write(
        f"hearth serve on Ray: {', '.join(settings.models)}, {replicas} replica(s) each, "
        f"at http://{host}:{port}\n"
    )
    sys.stdout.flush()
    run(settings, config, RayOptions(low, high), host=host, port=port, address=address)
def _backend_options(
    n_ctx: int | None,
    n_threads: int | None,
    mmproj: str | None,
    accelerator: AcceleratorOptions,
    draft_model: str | None,
) -> dict[str, object]:
    """The local models' options the command line gives (those left out: the config's)."""
    given: dict[str, object] = {"n_ctx": n_ctx, "n_threads": n_threads, "mmproj": mmproj}
    options = {name: value for name, value in given.items() if value is not None}
    options.update(accelerator.given())
    if draft_model is not None:
        options["draft_model"] = draft_model
    return options


def _draft_for_one(draft_model: str, models: list[str], any_model: bool) -> str:
    """``--draft-model``, which drafts for the one served model."""
    if len(models) > 1 or any_model:
        raise InvalidRequestError(
            "--draft-model drafts for one served model; with several (or --any-model), set "
            "draft_model in each model's [[models]] entry of the config file"
        )
    return draft_model


def _residency(
    max_loaded: int | None, budget: str | None, keep_alive: str | None
) -> dict[str, object]:
    """The server settings of --max-loaded-models, --memory-budget and --keep-alive."""
    from hearth.memory_sizes import parse_memory
    from hearth.wire.ollama.request_fields import Unset, keep_alive_seconds

    values: dict[str, object] = {"max_loaded_models": max_loaded}  # keep_alive -1: for ever
    if budget is not None:
        values["memory_budget"] = parse_memory(budget)
    if keep_alive is not None:
        try:
            seconds = keep_alive_seconds(keep_alive)
        except InvalidRequestError:
            raise InvalidRequestError(
                f"--keep-alive: expected a duration such as 5m, 300 (seconds), 0 or -1 (for "
                f"ever), got {keep_alive!r}"
            ) from None
        values["keep_alive"] = -1.0 if isinstance(seconds, Unset) or seconds is None else seconds
    return values


def allowed_hosts(
    given: list[str], bind_host: str, uds: str | None, *, has_key: bool
) -> tuple[str, ...]:
    """The Host names the server answers to: the loopback names, the address it is bound to
    (unless a wildcard) and those given. On a Unix socket, or bound to every address with a key
    and no names given, any: no browser reaches a socket file, and the key is what protects a
    server bound to every address."""
    from hearth.server.settings import LOOPBACK_HOSTS

    if not given and (uds is not None or (bind_host in _WILDCARDS and has_key)):
        return ("*",)
    hosts = [*LOOPBACK_HOSTS, *([] if bind_host in _WILDCARDS else [bind_host]), *given]
    return tuple(dict.fromkeys(h.strip("[]").lower() for h in hosts))


def _bind_then_serve(
    settings: ServerSettings,
    config: Config,
    bind_host: str,
    bind_port: int,
    uds: str | None,
    log_level: str,
) -> None:
    """Bind first (a busy port is one error line before any model loads), then build the app,
    print where each client finds it, and serve on the bound socket."""
    from hearth.server import create_app
    from hearth.server.banner import banner
    from hearth.server.listen import listen_tcp, listen_unix

    sock = listen_unix(uds) if uds is not None else listen_tcp(bind_host, bind_port)
    try:
        app = create_app(settings, config=config)  # builds the backends; they load in the app
        if uds is None:
            bind_port = sock.getsockname()[1]  # the port chosen for --port 0
        text = banner(
            settings.models, host=bind_host, port=bind_port, uds=uds, web_ui=settings.web_ui,
            needs_key=settings.api_key is not None,
        )  # fmt: skip
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        _listen(app, settings, sock, bind_host, bind_port, uds, log_level)
    finally:
        sock.close()
        if uds is not None:
            with contextlib.suppress(OSError):
                os.remove(uds)


def _listen(
    app: Starlette,
    settings: ServerSettings,
    sock: socket.socket,
    bind_host: str,
    bind_port: int,
    uds: str | None,
    log_level: str,
) -> None:
    """Set up logging, warn about an open unauthenticated bind, then run uvicorn on the bound
    socket until a SIGTERM has drained the requests in flight."""
    from hearth.server import running

    _setup_logging(log_level)
    logger = logging.getLogger("hearth.server")
    if uds is None and bind_host not in _LOOPBACK and settings.api_key is None:
        logger.warning(
            "listening on %s without an API key: anyone who can reach it may use it%s "
            "(set --api-key or $%s)", bind_host,
            " and read the chat page's conversations" if settings.web_ui else "", ENV_API_KEY,
        )  # fmt: skip
    if uds is None and bind_host in _WILDCARDS and "*" not in settings.allowed_hosts:
        logger.warning(
            "requests are answered only when their Host header is one of %s; clients that "
            "reach this server by another name or address need --allow-host NAME",
            ", ".join(settings.allowed_hosts),
        )
    config = running.build_config(
        app, settings, host=bind_host, port=bind_port, uds=uds, log_level=log_level
    )
    running.serve(config, app.state.hearth.draining, sockets=[sock])


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, so a redirected or
    replaced stderr (a test runner's capture, a daemon's log file) never gets a stale stream."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # the handler's lock is held here
        super().emit(record)


def _setup_logging(level: str) -> None:
    """One stderr handler on hearth's server logger, however many times a server starts."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("hearth.server")
    for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
