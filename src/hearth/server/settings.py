"""ServerSettings: everything ``create_app`` needs, as one frozen value (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hearth._secret import Secret
from hearth.config.schema import Config, ServerConfig
from hearth.errors import InvalidRequestError

DEFAULT_MAX_BODY = 8 * 1024 * 1024
DEFAULT_LOCAL_PARALLEL = 1
DEFAULT_REMOTE_PARALLEL = 8


@dataclass(frozen=True)
class ServerSettings:
    """How the server behaves.

    * ``models``: the model strings served (``local:smollm2``, an alias, ``groq:…``); the first
      is the default listed first by ``/v1/models``. Requests naming any other model get 404.
    * ``max_queue``: requests that may wait for a free slot per model; one more is refused at
      once with 429 and ``Retry-After``.
    * ``parallel``: requests per model that run at the same time. None: a local model's engine
      slots (``options.slots`` when the backend has them, else 1); 8 for other backends.
    * ``timeout``: seconds a request may take, waiting included (its deadline).
    * ``api_key``: when set, every route but /health and /ready needs it (``Authorization:
      Bearer``, ``x-api-key`` or ``x-goog-api-key``).
    * ``cors_origins``: origins allowed by CORS; empty means no CORS headers at all.
    * ``max_body``: the largest request body in bytes (413 above it).
    * ``retry_after``: seconds a refused client is told to wait.
    * ``web_ui``: serve the chat page at ``/`` and its conversation routes (``/ui/…``).
    * ``store_path``: the conversation store the chat page lists and saves to (None: hearth's
      usual ``conversations.db``, :func:`hearth.store.default_path`). Opened on first use.
    * ``responses_store``: the SQLite file ``/v1/responses`` stores responses in; None: the
      conversation store's file (``$HEARTH_HOME/conversations.db``).
    """

    models: tuple[str, ...]
    max_queue: int = 64
    parallel: int | None = None
    timeout: float = 600.0
    api_key: Secret | None = None
    cors_origins: tuple[str, ...] = ()
    max_body: int = DEFAULT_MAX_BODY
    retry_after: float = 1.0
    backend_options: dict[str, object] = field(default_factory=dict)
    web_ui: bool = True
    store_path: Path | None = None
    responses_store: Path | None = None

    def __post_init__(self) -> None:
        if not self.models:
            raise InvalidRequestError("the server needs at least one model to serve (--model)")
        if self.max_queue < 0:
            raise InvalidRequestError(f"max_queue must be 0 or more, got {self.max_queue}")
        if self.parallel is not None and self.parallel < 1:
            raise InvalidRequestError(f"parallel must be at least 1, got {self.parallel}")
        if not self.timeout > 0:
            raise InvalidRequestError(f"timeout must be a positive number, got {self.timeout}")
        if self.max_body < 1024:
            raise InvalidRequestError(f"max_body must be at least 1024 bytes, got {self.max_body}")

    @classmethod
    def from_config(
        cls, config: Config, models: tuple[str, ...] = (), **overrides: object
    ) -> ServerSettings:
        """Settings from the ``[server]`` table; ``models`` empty means the default model."""
        server: ServerConfig = config.server
        key = server.resolve_api_key()
        values: dict[str, object] = {
            "models": models or (config.default_model,),
            "max_queue": server.max_queue,
            "timeout": server.timeout,
            "api_key": Secret(key) if key else None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
