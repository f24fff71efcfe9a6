"""The error tree. Every error hearth raises on purpose is a :class:`HearthError`.

::

    HearthError
    ├── ConfigurationError                 the caller asked for something that does not exist
    │   ├── UnknownProviderError           "foo:bar" with no provider "foo"
    │   ├── ModelNotFoundError             a model name no catalogue / provider knows (remote 404)
    │   ├── ConfigFileError                the config file is unreadable, not TOML, or off-schema
    │   │                                  (path, line); hearth.config
    │   └── ListenError                    `hearth serve` cannot bind its port or address (in use,
    │                                      not this machine's); hearth.server.listen
    ├── InvalidRequestError (ValueError)   the request itself is wrong; fix it and retry
    │   ├── ContextLengthExceededError     the prompt does not fit the context window
    │   ├── UnsupportedFeatureError        the backend cannot do what was asked (tools, images, …)
    │   ├── ToolArgumentsError             a tool call's arguments are not JSON or fail its schema
    │   │                                  (hearth.tools; the model sees it as an error result)
    │   └── TemplateError                  a model's chat template failed to render the messages
    │                                      (hearth.backends.local.templates)
    ├── ModelUnavailableError              the model's file is not here and could not be fetched
    │   └── ModelFetchError                fetching it (pip, network) failed
    ├── ModelLoadError                     the file is here but cannot be used
    │   ├── InvalidModelFileError          not a GGUF, truncated, malformed
    │   └── ChecksumMismatchError          SHA-256 differs from the expected one
    ├── OutputValidationError              structured output failed its schema (raw text kept)
    ├── OverloadedError                    the request queue is full; retry later
    ├── ModelClosedError                   the model was closed; open it again to use it
    ├── EngineError                        llama.cpp failed on a loaded model
    │                                      (hearth.backends.local.engine)
    ├── RequestTimeoutError                the request's deadline passed
    ├── MCPServerError                     an MCP server could not be started or reached
    │                                      (server, stderr tail); hearth.mcp
    └── ProviderError                      a remote API failed (status, retry_after)
        ├── AuthenticationError            401 / 403
        ├── RateLimitError                 429
        ├── ServerError                    5xx / 529
        ├── APIConnectionError             could not reach the endpoint
        ├── APITimeoutError                the endpoint did not answer in time
        └── MalformedStreamError           a streamed chunk could not be read (``partial``:
                                           the answer streamed before it; it lives in
                                           hearth.stream_errors, beside the message vocabulary)

Errors carry what a caller needs to act (token counts, paths, retry_after) as attributes, and
their message says what was wrong and what to do. Hearth never logs an error and then falls back
silently.
"""

from __future__ import annotations


class HearthError(Exception):
    """Base of every error hearth raises on purpose."""


class ConfigurationError(HearthError):
    """The caller asked for a provider, model or option that does not exist."""


class UnknownProviderError(ConfigurationError):
    def __init__(self, provider: str, known: list[str]) -> None:
        self.provider = provider
        self.known = known
        super().__init__(
            f"unknown provider {provider!r}; known providers: {', '.join(sorted(known))}. "
            "Write the model as 'provider:name', e.g. 'local:smollm2'."
        )


class ModelNotFoundError(ConfigurationError):
    def __init__(self, message: str, *, model: str, known: list[str] | None = None) -> None:
        self.model = model
        self.known = known or []
        super().__init__(message)


class ConfigFileError(ConfigurationError):
    """The config file (or an environment variable overriding it) is wrong."""

    def __init__(
        self, path: str, message: str, *, line: int | None = None, column: int | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = path if line is None else f"{path}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}")


class InvalidRequestError(HearthError, ValueError):
    """The request is malformed or out of range."""


class ContextLengthExceededError(InvalidRequestError):
    """The prompt does not fit. Counts are None when the provider did not say them."""

    def __init__(
        self, prompt_tokens: int | None, context_length: int | None, *, detail: str = ""
    ) -> None:
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length
        extra = f" {detail}" if detail else ""
        if prompt_tokens is not None and context_length is not None:
            what = (
                f"the prompt is {prompt_tokens} tokens but the context window holds "
                f"{context_length}"
            )
        else:
            what = "the prompt does not fit the model's context window"
        super().__init__(
            f"{what}; shorten the conversation or use a model (or n_ctx) with a larger "
            f"window.{extra}"
        )


class UnsupportedFeatureError(InvalidRequestError):
    """The backend cannot do what was asked."""


class ToolArgumentsError(InvalidRequestError):
    """A tool call's arguments are not valid JSON or fail the tool's schema. ``tool`` names
    the tool; the message says what to fix (it is what the model is shown)."""

    def __init__(self, message: str, *, tool: str = "") -> None:
        self.tool = tool
        super().__init__(message)


class ModelUnavailableError(HearthError):
    """The model's file is not in the store and was not fetched."""


class ModelFetchError(ModelUnavailableError):
    """Fetching a model failed."""


class ModelLoadError(HearthError):
    """The model file exists but cannot be loaded."""


class InvalidModelFileError(ModelLoadError):
    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path} is not a usable GGUF model file: {reason}")


class ChecksumMismatchError(ModelLoadError):
    def __init__(self, path: str, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{path} has SHA-256 {actual}, expected {expected}; the file is corrupt or not "
            "the one the catalogue names. Delete it and pull the model again."
        )


class OutputValidationError(HearthError):
    """The model's answer did not parse or validate against the requested output format.

    ``raw`` is the model's text, byte for byte; ``errors`` says what failed."""

    def __init__(self, message: str, *, raw: str, errors: list[str] | None = None) -> None:
        self.raw = raw
        self.errors = errors or []
        super().__init__(message)


class OverloadedError(HearthError):
    """The request queue is full."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ModelClosedError(HearthError):
    """The model was used after ``close()``. It is not reloaded behind the caller's back:
    open it again (``hearth.model(...)``) to use it."""

    def __init__(self, name: str) -> None:
        self.model = name
        super().__init__(
            f"{name} is closed: it was used after close(). Open it again with "
            f"hearth.model({name!r}) to use it"
        )


class RequestTimeoutError(HearthError, TimeoutError):
    """The request's deadline passed before it finished."""


class MCPServerError(HearthError):
    """An MCP server could not be started, did not answer in time, or went away.

    ``server`` names it; ``stderr`` is the end of what a stdio server wrote to its stderr (its
    own explanation, often), empty when there is none."""

    def __init__(self, message: str, *, server: str, stderr: str = "") -> None:
        self.server = server
        self.stderr = stderr
        super().__init__(message)


class ProviderError(HearthError):
    """A remote API answered with an error or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        provider: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.provider = provider
        self.retry_after = retry_after
        super().__init__(message)


class AuthenticationError(ProviderError):
    pass


class RateLimitError(ProviderError):
    pass


class ServerError(ProviderError):
    pass


class APIConnectionError(ProviderError):
    pass


class APITimeoutError(ProviderError, TimeoutError):
    pass


