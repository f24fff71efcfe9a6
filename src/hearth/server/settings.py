"""ServerSettings: everything ``create_app`` needs, as one frozen value (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hearth._secret import Secret
from hearth.config.schema import Config, ServerConfig
from hearth.errors import InvalidRequestError
from hearth.input_limits import InputLimits

DEFAULT_MAX_BODY = 8 * 1024 * 1024
DEFAULT_LOCAL_PARALLEL = 1
DEFAULT_REMOTE_PARALLEL = 8
DEFAULT_READ_TIMEOUT = 30.0
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


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
    * ``allowed_hosts``: the names and addresses the ``Host`` header may give (any port);
      ``*`` allows any, ``*.example.com`` any subdomain. Others get 400, so a web page that
      rebinds its own DNS name to this server cannot talk to it. Default: the loopback names.
    * ``read_timeout``: seconds a client has to send a request's headers, and then its body
      (408 after that).
    * ``max_messages``, ``max_message_bytes``, ``max_text_bytes``: bounds on what one request
      may hold (messages; bytes of text in one message; in the whole request), checked before
      anything else works on it. None: only each model's own (a local model refuses what its
      context window could never hold).
    * ``max_loaded_models``: local models in memory at once (None: as many as the budget
      holds); ``memory_budget``: bytes the loaded local models may take (None: the memory the
      machine has available when the server starts); ``keep_alive``: seconds an idle local
      model stays loaded (None or negative: for ever; a request's own wins). Models load on
      their first request; the least recently used idle one is unloaded to make room.
    * ``any_model``: also serve, loaded on its first request, any local model a request names
      by its catalogue or ``[[models]]`` name, or as ``hf:ORG/REPO/FILE.gguf`` (never a path).
    * ``grow_context``: a request whose ``num_ctx`` (Ollama's) is more than its local model's
      window reloads the model once with that window (never smaller); off: it is a 400.
    * ``image_url_allow``: hosts whose ``http(s)`` image URLs the server fetches for a request
      (:mod:`hearth.server.image_urls`); empty: image URLs are refused, images come inline.
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
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_messages: int | None = None
    max_message_bytes: int | None = None
    max_text_bytes: int | None = None
    max_loaded_models: int | None = None
    memory_budget: int | None = None
    keep_alive: float | None = None
    any_model: bool = False
    grow_context: bool = False
    image_url_allow: tuple[str, ...] = ()

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
        if not self.read_timeout > 0:
            raise InvalidRequestError(
                f"read_timeout must be a positive number of seconds, got {self.read_timeout}"
            )
        if not self.allowed_hosts:
            raise InvalidRequestError(
                "allowed_hosts is empty: no request could reach the server; give at least one "
                "name (or '*' for any)"
            )
        self.input_limits()  # each bound must be at least 1
        if self.max_loaded_models is not None and self.max_loaded_models < 1:
            raise InvalidRequestError(
                f"max_loaded_models must be at least 1, got {self.max_loaded_models}"
            )
        if self.memory_budget is not None and self.memory_budget < 1:
            raise InvalidRequestError(
                f"memory_budget must be a positive number of bytes, got {self.memory_budget}"
            )
        if self.keep_alive is not None and self.keep_alive < 0:  # -1: for ever, as Ollama's
            object.__setattr__(self, "keep_alive", None)

    def input_limits(self) -> InputLimits:
        """The server's own bounds on a request (None where it sets none)."""
        return InputLimits(
            max_messages=self.max_messages,
            max_message_bytes=self.max_message_bytes,
            max_text_bytes=self.max_text_bytes,
            source="the server's limit (hearth serve --max-messages, --max-message-bytes, "
            "--max-text-bytes)",
        )

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
            "max_loaded_models": server.max_loaded_models,
            "memory_budget": server.memory_budget,
            "keep_alive": server.keep_alive,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
