"""Responses API errors: OpenAI's error shape (``{"error": {"message", "type", "param",
"code"}}``) both ways, as :mod:`hearth.wire.openai.errors` maps it, plus the one error only
this API has: a stored response that does not exist (404 ``not_found``)."""

from __future__ import annotations

from collections.abc import Mapping

from hearth.errors import HearthError, InvalidRequestError
from hearth.messages import JsonObject
from hearth.wire.openai import errors as openai_errors

PROVIDER = "openai"


class ResponseNotFoundError(InvalidRequestError):
    """``GET`` / ``DELETE`` / ``cancel`` / ``input_items`` of a response id the store does not
    hold (never stored, deleted, or from another server): 404."""

    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        super().__init__(
            f"no response with id {response_id!r} is stored here (it was never stored, was "
            "created with store: false, or was deleted)"
        )


def error_from_wire(
    status: int, body: JsonObject | str, headers: Mapping[str, str], *, provider: str = PROVIDER
) -> HearthError:
    return openai_errors.error_from_wire(status, body, headers, provider=provider)


def error_to_wire(exc: HearthError) -> tuple[int, JsonObject]:
    """An HTTP status and OpenAI error body for ``exc`` (for the server)."""
    if isinstance(exc, ResponseNotFoundError):
        return 404, {
            "error": {
                "message": str(exc), "type": "invalid_request_error", "param": None,
                "code": "not_found",
            }
        }  # fmt: skip
    return openai_errors.error_to_wire(exc)
