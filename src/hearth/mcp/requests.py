"""Requests a server sends to hearth: ``sampling/createMessage`` and ``elicitation/create``.

* Sampling is answered by the agent's own model, only for a server whose ``sampling`` is on
  (otherwise hearth does not offer the capability, so the server does not ask). The model runs
  in a worker thread, so the MCP loop keeps serving other calls meanwhile.
* Elicitation (a server asking the user for input) goes to the ``elicit`` callback when there is
  one (it returns the content, or None to decline); else to the approval callback, which sees a
  call named ``mcp_elicitation`` whose arguments are the server, its message and the requested
  schema: approved, the answer is the schema's defaults (declined when they do not satisfy
  it); refused, declined. With neither callback hearth does not offer elicitation.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from hearth.callbacks import ApprovalCallback, call_hook
from hearth.messages import ImagePart, JsonObject, Message, Role, TextPart, ToolCallPart

if TYPE_CHECKING:
    import mcp_types as types
    from mcp.client.session import ClientRequestContext, ElicitationFnT, SamplingFnT

    from hearth.client import Model
    from hearth.mcp_spec import MCPServer


@dataclass(frozen=True, slots=True)
class Elicitation:
    """What a server asks the user: ``message``, and the JSON schema of the answer (form
    mode) or a ``url`` to open (URL mode)."""

    server: str
    message: str
    schema: JsonObject | None
    url: str | None = None


ElicitCallback: TypeAlias = Callable[
    [Elicitation], "JsonObject | Awaitable[JsonObject | None] | None"
]
_ids = itertools.count(1)


def sampling_callback(spec: MCPServer, model: Callable[[], Model | None]) -> SamplingFnT | None:
    """The server's sampling handler, or None when sampling is off for it."""
    if not spec.sampling:
        return None

    async def sample(
        context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        import anyio
        import mcp_types as types

        chosen = model()
        if chosen is None:
            why = "hearth has no model to answer sampling with"
            return types.ErrorData(code=types.INVALID_REQUEST, message=why)
        try:
            messages = [_message(m) for m in params.messages]
        except ValueError as exc:
            return types.ErrorData(code=types.INVALID_PARAMS, message=str(exc))
        options: dict[str, Any] = {"max_tokens": params.max_tokens}
        if params.temperature is not None:
            options["temperature"] = params.temperature
        if params.stop_sequences:
            options["stop"] = list(params.stop_sequences)

        def run() -> Any:
            return chosen.chat(messages, system=params.system_prompt, **options)

        try:
            response = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except Exception as exc:
            return types.ErrorData(code=types.INTERNAL_ERROR,
                                   message=f"hearth's model failed: {exc}")  # fmt: skip
        stop = "maxTokens" if response.stop_reason == "max_tokens" else "endTurn"
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=response.text),
            model=chosen.name, stop_reason=stop,
        )  # fmt: skip

    return sample


def _message(sampled: types.SamplingMessage) -> Message:
    import mcp_types as types

    blocks = sampled.content if isinstance(sampled.content, list) else [sampled.content]
    parts: list[TextPart | ImagePart] = []
    for block in blocks:
        if isinstance(block, types.TextContent):
            parts.append(TextPart(block.text))
        elif isinstance(block, types.ImageContent):
            try:
                parts.append(ImagePart(base64.b64decode(block.data), block.mime_type))
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"an image in the sampling request is not valid: {exc}") from None
        else:
            kind = getattr(block, "type", type(block).__name__)
            raise ValueError(f"hearth cannot sample from {kind} content; send text or images")
    role: Role = "assistant" if sampled.role == "assistant" else "user"
    return Message(role, tuple(parts))


def elicitation_callback(
    spec: MCPServer, elicit: ElicitCallback | None, approve: ApprovalCallback | None
) -> ElicitationFnT | None:
    """The server's elicitation handler, or None (not offered) without either callback."""
    if elicit is None and approve is None:
        return None

    async def answer(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        import mcp_types as types

        schema = getattr(params, "requested_schema", None)
        asked = Elicitation(spec.name, params.message,
                            _json(schema), getattr(params, "url", None))  # fmt: skip
        if elicit is not None:
            content = await call_hook(elicit(asked))
        elif asked.url is not None:  # hearth opens no URLs on a yes/no approval
            content = None
        else:
            assert approve is not None
            content = await _approved_defaults(asked, approve)
        if content is None:
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content=content)  # type: ignore[arg-type]

    return answer


async def _approved_defaults(asked: Elicitation, approve: ApprovalCallback) -> JsonObject | None:
    arguments = {"server": asked.server, "message": asked.message,
                 "requested_schema": asked.schema, "url": asked.url}  # fmt: skip
    call = ToolCallPart(f"elicitation-{next(_ids)}", "mcp_elicitation", json.dumps(arguments))
    reason = f"MCP server {asked.server!r} asks: {asked.message}"
    if not await call_hook(approve(call, reason)):
        return None
    content = defaults(asked.schema)
    required = (asked.schema or {}).get("required", [])
    if isinstance(required, list) and any(key not in content for key in required):
        return None  # approval cannot invent the answers: decline
    return content


def defaults(schema: JsonObject | None) -> JsonObject:
    """The ``default`` of each property of a requested schema."""
    properties = (schema or {}).get("properties", {})
    if not isinstance(properties, dict):
        return {}
    return {key: prop["default"] for key, prop in properties.items()
            if isinstance(prop, dict) and "default" in prop}  # fmt: skip


def _json(schema: object) -> JsonObject | None:
    if schema is None:
        return None
    dump = getattr(schema, "model_dump", None)
    value = dump(by_alias=True, exclude_none=True, mode="json") if callable(dump) else schema
    return value if isinstance(value, dict) else None
