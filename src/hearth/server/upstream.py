"""When ``hearth serve`` is a gateway to a remote provider, that provider's failures are the
gateway's to report, never passed on as if they were the client's.

* The provider refused the server's key (401 / 403): **502** ``upstream_auth_error``, saying that
  the key *this server* uses for the provider was refused. A 401 would tell the client that its
  own key is wrong, and it can do nothing about the server's.
* The provider failed (5xx): **502** ``upstream_error``: the gateway got a bad answer. A 500
  would say that hearth itself failed.
* Everything else keeps its mapping: a 429 stays a 429 (with ``Retry-After``), the client's own
  bad request a 400, a timeout a 504, an unreachable provider a 502.

Messages were already scrubbed of the provider's key by the remote backend
(:func:`hearth._redact.redact`); the upstream's own words for an auth failure are logged by the
server, not sent to the client.
"""

from __future__ import annotations

from hearth.errors import AuthenticationError, ProviderError, ServerError
from hearth.messages import JsonObject, JsonValue

UPSTREAM_AUTH_ERROR = "upstream_auth_error"
UPSTREAM_ERROR = "upstream_error"


class UpstreamError(ProviderError):
    """A remote provider's failure, as the gateway reports it: 502 and ``wire_code``."""

    http_status = 502

    def __init__(self, message: str, *, provider: str | None, wire_code: str) -> None:
        super().__init__(message, status_code=502, provider=provider)
        self.wire_code = wire_code


def upstream_error(exc: BaseException) -> UpstreamError | None:
    """The gateway's error for a remote provider's failure; None for anything else."""
    if isinstance(exc, UpstreamError) or not isinstance(exc, ProviderError):
        return None
    provider = exc.provider
    if provider is None:  # raised by hearth itself, not by a remote backend
        return None
    status = exc.status_code
    if isinstance(exc, AuthenticationError):
        return UpstreamError(
            f"the upstream provider {provider} refused the API key this server uses for it "
            f"(HTTP {status or 401}); the server's operator must fix that key. Your request "
            "was not at fault.",
            provider=provider,
            wire_code=UPSTREAM_AUTH_ERROR,
        )
    failed = isinstance(exc, ServerError) or (
        type(exc) is ProviderError and status is not None and status >= 500
    )
    if failed:
        return UpstreamError(
            f"the upstream provider {provider} failed (HTTP {status or 500}): {exc}",
            provider=provider,
            wire_code=UPSTREAM_ERROR,
        )
    return None


def tag_error(body: JsonObject, code: str) -> None:
    """Put ``code`` where each API's error body names the kind of error: OpenAI's ``code``,
    Anthropic's ``type``, a Gemini ``ErrorInfo`` reason."""
    error = body.get("error")
    if not isinstance(error, dict):
        return
    if body.get("type") == "error":  # Anthropic
        error["type"] = code
    elif isinstance(error.get("code"), int):  # Gemini (google.rpc.Status)
        details: list[JsonValue] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": code.upper(),
                "domain": "hearth",
            }
        ]
        existing = error.get("details")
        error["details"] = [*existing, *details] if isinstance(existing, list) else details
    else:  # OpenAI
        error["code"] = code
