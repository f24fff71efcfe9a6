"""Hearth: one API over local (llama.cpp, in-process) and remote language models.

>>> import hearth
>>> m = hearth.model("local:smollm2")
>>> print(m.chat("What is the capital of France?").text)

Importing hearth is light: llama.cpp, provider code, the agent (asyncio), the conversation store
(sqlite3) and the CLI load only when first used. ``hearth.Agent`` and the other names of
:data:`_LAZY` are imported on first access (PEP 562), so ``import hearth`` stays near 50 ms.
"""

import typing as _typing

from hearth.backends.base import Backend, Capabilities
from hearth.client import (
    AsyncChatStream,
    ChatStream,
    Model,
    aembed,
    embed,
    model,
)
from hearth.conversation import Conversation
from hearth.embeddings import Embeddings
from hearth.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ChecksumMismatchError,
    ConfigurationError,
    ContextLengthExceededError,
    HearthError,
    InvalidModelFileError,
    InvalidRequestError,
    MCPServerError,
    ModelClosedError,
    ModelFetchError,
    ModelLoadError,
    ModelNotFoundError,
    ModelUnavailableError,
    OutputValidationError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    ToolArgumentsError,
    UnknownProviderError,
    UnsupportedFeatureError,
)
from hearth.events import (
    Done,
    ImageEvent,
    StopReason,
    StreamEvent,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    Usage,
)
from hearth.logprobs import TokenLogprob
from hearth.messages import (
    ImagePart,
    Message,
    Part,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from hearth.request import ChatRequest, OutputFormat, ToolChoice, ToolSpec
from hearth.response import Response, ResponseAccumulator, accumulate
from hearth.settings import GenerationSettings
from hearth.tools import Tool, ToolResult, as_tool, tool

if _typing.TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports them
    from hearth.agent import Agent, AgentResult, Hooks
    from hearth.store import ConversationStore

_LAZY = {
    "Agent": "hearth.agent",
    "AgentResult": "hearth.agent",
    "Hooks": "hearth.agent",
    "ConversationStore": "hearth.store",
}


def __getattr__(name: str) -> object:
    """``hearth.Agent`` and friends: imported when first used, then cached on the module."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hearth' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "Agent",
    "AgentResult",
    "AsyncChatStream",
    "AuthenticationError",
    "Backend",
    "Capabilities",
    "ChatRequest",
    "ChatStream",
    "ChecksumMismatchError",
    "ConfigurationError",
    "ContextLengthExceededError",
    "Conversation",
    "ConversationStore",
    "Done",
    "Embeddings",
    "GenerationSettings",
    "HearthError",
    "Hooks",
    "ImageEvent",
    "ImagePart",
    "InvalidModelFileError",
    "InvalidRequestError",
    "MCPServerError",
    "Message",
    "Model",
    "ModelClosedError",
    "ModelFetchError",
    "ModelLoadError",
    "ModelNotFoundError",
    "ModelUnavailableError",
    "OutputFormat",
    "OutputValidationError",
    "OverloadedError",
    "Part",
    "ProviderError",
    "RateLimitError",
    "RequestTimeoutError",
    "Response",
    "ResponseAccumulator",
    "Role",
    "ServerError",
    "StopReason",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "ThinkingDelta",
    "ThinkingPart",
    "TokenLogprob",
    "Tool",
    "ToolArgumentsError",
    "ToolCallEvent",
    "ToolCallPart",
    "ToolChoice",
    "ToolResult",
    "ToolResultPart",
    "ToolSpec",
    "UnknownProviderError",
    "UnsupportedFeatureError",
    "Usage",
    "__version__",
    "accumulate",
    "aembed",
    "as_tool",
    "embed",
    "model",
    "tool",
]
