"""Hearth: one API over local (llama.cpp, in-process) and remote language models.

>>> import hearth
>>> m = hearth.model("local:smollm2")
>>> print(m.chat("What is the capital of France?").text)

Importing hearth is light: llama.cpp, provider code and the CLI load only when first used.
"""

from hearth.agent import Agent, AgentResult, Hooks
from hearth.backends.base import Backend, Capabilities
from hearth.client import (
    AsyncChatStream,
    ChatStream,
    Conversation,
    Model,
    aembed,
    embed,
    model,
)
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
from hearth.store import ConversationStore
from hearth.tools import Tool, ToolResult, as_tool, tool

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
