"""Gemini REST wire shapes (``generateContent`` / ``streamGenerateContent``), as pydantic models.

They validate bodies that cross into hearth: requests the server receives and responses a
remote Gemini sends. Both camelCase (what the API returns) and snake_case (what Google's own
curl examples send) field names are accepted, as the API does, and a single object stands for a
one-element list where the API allows it (``"parts": {"text": …}``). Unknown fields are ignored.

Enumerations (roles, modes, finish reasons) are plain strings here: the request decoder checks
them with messages that name the field, and the response decoder tolerates values it does not
know. :func:`parse` turns a pydantic ValidationError into a hearth error naming the field, e.g.
``contents[2].parts[0].functionCall.name: Field required``.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, JsonValue, ValidationError
from pydantic.alias_generators import to_camel

from hearth.errors import InvalidRequestError, ProviderError

PROVIDER = "gemini"

T = TypeVar("T")


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, dict) else value


OneOrMany = Annotated[list[T], BeforeValidator(_one_or_many)]
"""A list that also accepts a single object in its place."""

Object = dict[str, JsonValue]


class Shape(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        frozen=True,
    )


class Blob(Shape):
    mime_type: str
    data: str


class FunctionCall(Shape):
    name: str
    args: Object | None = None
    id: str | None = None


class FunctionResponse(Shape):
    name: str
    response: Object | None = None
    id: str | None = None


class Part(Shape):
    """One part. Exactly one data field is meant to be set; ``thought`` and
    ``thoughtSignature`` may sit beside any of them. Unknown part kinds (``executableCode``,
    ``fileData`` …) are kept in ``model_extra`` so the request decoder can name them."""

    model_config = ConfigDict(extra="allow")

    text: str | None = None
    inline_data: Blob | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    thought: bool | None = None
    thought_signature: str | None = None


class Content(Shape):
    role: str | None = None
    parts: OneOrMany[Part] = []


class FunctionDeclaration(Shape):
    name: str
    description: str | None = None
    parameters: Object | None = None
    parameters_json_schema: Object | None = None


class Tool(Shape):
    """A tool entry; entries without ``functionDeclarations`` (``googleSearch``,
    ``codeExecution`` …) keep their keys in ``model_extra``."""

    model_config = ConfigDict(extra="allow")

    function_declarations: OneOrMany[FunctionDeclaration] | None = None


class FunctionCallingConfig(Shape):
    mode: str | None = None
    allowed_function_names: list[str] | None = None


class ToolConfig(Shape):
    function_calling_config: FunctionCallingConfig | None = None


class ThinkingConfig(Shape):
    thinking_budget: int | None = None
    include_thoughts: bool | None = None


class GenerationConfig(Shape):
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    stop_sequences: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    candidate_count: int | None = None
    response_mime_type: str | None = None
    response_schema: JsonValue = None
    response_json_schema: JsonValue = None
    thinking_config: ThinkingConfig | None = None
    # Read only to refuse them by name (hearth cannot honour them):
    response_logprobs: bool | None = None
    logprobs: int | None = None
    response_modalities: list[str] | None = None
    speech_config: JsonValue = None


class Request(Shape):
    contents: OneOrMany[Content]
    system_instruction: Content | None = None
    tools: OneOrMany[Tool] | None = None
    tool_config: ToolConfig | None = None
    generation_config: GenerationConfig | None = None
    model: str | None = None
    cached_content: str | None = None  # read only to refuse it by name


class LogprobCandidate(Shape):
    token: str | None = None
    token_id: int | None = None
    log_probability: float | None = None


class TopCandidates(Shape):
    candidates: list[LogprobCandidate] = []


class LogprobsResult(Shape):
    top_candidates: list[TopCandidates] = []
    chosen_candidates: list[LogprobCandidate] = []


class Candidate(Shape):
    content: Content | None = None
    finish_reason: str | None = None
    logprobs_result: LogprobsResult | None = None


class PromptFeedback(Shape):
    block_reason: str | None = None


class UsageMetadata(Shape):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int = 0
    cached_content_token_count: int = 0
    tool_use_prompt_token_count: int = 0


class Response(Shape):
    candidates: list[Candidate] = []
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: str | None = None
    response_id: str | None = None


S = TypeVar("S", bound=Shape)


def parse(shape: type[S], body: object, *, inbound: Literal["request", "response"]) -> S:
    """Validate ``body`` as ``shape``. A bad request raises InvalidRequestError, a malformed
    provider response ProviderError; either way the message names the first bad field."""
    try:
        return shape.model_validate(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        where = field_path(first["loc"])
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        detail = f"{where}: {first['msg']}{more}"
        if inbound == "request":
            raise InvalidRequestError(f"invalid Gemini request: {detail}") from None
        raise ProviderError(
            f"{PROVIDER} sent a malformed response: {detail}", provider=PROVIDER
        ) from None


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("contents", 2, "role")`` → ``contents[2].role``; the empty path is ``body``."""
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif item.startswith(("function-after", "function-before")):
            continue  # pydantic's validator wrapper names are not field names
        else:
            out += f".{item}" if out else item
    return out or "body"
