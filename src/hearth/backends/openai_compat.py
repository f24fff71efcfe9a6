"""Registry factories for OpenAI-compatible endpoints: ``openai:MODEL``, ``lmstudio:MODEL``, …

Each is one :class:`hearth.backends.remote.RemoteBackend` over the Chat Completions wire format
and a row of :data:`hearth.backends.endpoints.ENDPOINTS`. Options (all optional):

* ``api_key``: the key; default the row's environment variable (``OPENAI_API_KEY`` …), which is
  only sent to the row's own base URL;
* ``base_url``: e.g. ``http://127.0.0.1:8080/v1``; default the row's variable
  (``OPENAI_BASE_URL`` …), then the row's URL;
* ``timeout``: seconds for every phase, or a :class:`hearth._http.Timeouts`;
* ``max_retries``: retries of connection errors, 408, 409, 429 and 5xx (default 2);
* ``vision``: whether the model takes images, when hearth's table does not know;
* ``http_client`` / ``async_http_client``: your own httpx clients (hearth does not close them).

>>> hearth.model("openai:gpt-4o-mini")
>>> hearth.model("llama-server:qwen3", base_url="http://gpu-box:8080/v1")
"""

from __future__ import annotations

from hearth.backends.endpoints import get_endpoint
from hearth.backends.remote import RemoteBackend, create_remote


def create_openai(model: str, /, **options: object) -> RemoteBackend:
    """``openai:MODEL`` — OpenAI's API, or any Chat Completions server through ``base_url=``."""
    return create_remote(get_endpoint("openai"), model, options)


def create_lmstudio(model: str, /, **options: object) -> RemoteBackend:
    """``lmstudio:MODEL`` — LM Studio's local server (http://127.0.0.1:1234/v1)."""
    return create_remote(get_endpoint("lmstudio"), model, options)


def create_llama_server(model: str, /, **options: object) -> RemoteBackend:
    """``llama-server:MODEL`` — llama.cpp's server (http://127.0.0.1:8080/v1)."""
    return create_remote(get_endpoint("llama-server"), model, options)


def create_vllm(model: str, /, **options: object) -> RemoteBackend:
    """``vllm:MODEL`` — a vLLM server (http://127.0.0.1:8000/v1)."""
    return create_remote(get_endpoint("vllm"), model, options)


def create_hearth(model: str, /, **options: object) -> RemoteBackend:
    """``hearth:MODEL`` — another hearth's server (http://127.0.0.1:8080/v1, HEARTH_BASE_URL)."""
    return create_remote(get_endpoint("hearth"), model, options)


def create_groq(model: str, /, **options: object) -> RemoteBackend:
    """``groq:MODEL`` — GroqCloud (GROQ_API_KEY)."""
    return create_remote(get_endpoint("groq"), model, options)


def create_openrouter(model: str, /, **options: object) -> RemoteBackend:
    """``openrouter:VENDOR/MODEL`` — OpenRouter (OPENROUTER_API_KEY)."""
    return create_remote(get_endpoint("openrouter"), model, options)


def create_together(model: str, /, **options: object) -> RemoteBackend:
    """``together:VENDOR/MODEL`` — Together AI (TOGETHER_API_KEY)."""
    return create_remote(get_endpoint("together"), model, options)


def create_deepseek(model: str, /, **options: object) -> RemoteBackend:
    """``deepseek:MODEL`` — DeepSeek's API (DEEPSEEK_API_KEY)."""
    return create_remote(get_endpoint("deepseek"), model, options)
