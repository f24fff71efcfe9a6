"""Endpoints as data: where a remote model lives, which wire format it speaks, which key it takes.

An :class:`Endpoint` row names its wire format, its default base URL, the environment variables
that hold its key (first one set wins) and its base URL, and what its models can do. A new
OpenAI-compatible server is one more row in :data:`ENDPOINTS`, not a class.

:func:`resolve` decides the base URL and the key of one backend:

* base URL: the per-call ``base_url=`` option, else the endpoint's environment variable
  (``OPENAI_BASE_URL``, ``OLLAMA_HOST`` …), else the row's default. ``OLLAMA_HOST`` is read the way
  the ``ollama`` client reads it (``0.0.0.0``, ``host:port``, ``:port`` and full URLs).
* key: the per-call ``api_key=`` option, else the first of the row's key variables that is set,
  else a key saved with ``hearth keys set NAME`` (:mod:`hearth.keys`).
  **A key from the environment only goes to the endpoint it belongs to** (the row's default base
  URL, or the one its base-URL variable names). When ``base_url=`` points at another origin
  (scheme, host, port), the environment key is withheld; pass ``api_key=`` explicitly to send a
  key there. A missing key that the endpoint requires is a
  :class:`hearth.errors.ConfigurationError` naming the variables to set.

Keys are held in :class:`Secret`, whose repr never shows them.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TYPE_CHECKING

from hearth._secret import Secret
from hearth.backends.base import Capabilities
from hearth.errors import ConfigurationError, UnknownProviderError
from hearth.messages import JsonValue
from hearth.settings import GenerationSettings
from hearth.wire.base import WireFormat
from hearth.wire.formats import check_format_name, get_format

if TYPE_CHECKING:
    from hearth.config.schema import ProviderConfig

@dataclass(frozen=True, slots=True)
class ModelRule:
    """Capabilities for the models whose name matches ``pattern`` (fnmatch, case-insensitive).
    ``None`` leaves the capability to the next matching rule, then the endpoint's default."""

    pattern: str
    vision: bool | None = None
    thinking: bool | None = None
    raw_completion: bool | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One remote endpoint. ``wire_options`` are keyword arguments for the wire module's
    ``request_to_wire`` (e.g. ``max_tokens_field`` for servers that predate
    ``max_completion_tokens``).

    ``wire`` names the wire format (:mod:`hearth.wire.formats`). ``raw_completion``: the
    endpoint continues a raw prompt (``ChatRequest.prompt``) through its wire format's raw
    completion API (``WireFormat.raw``); a model rule may say otherwise for some models.
    ``raw_wire_options`` are that codec's options (``sampler_extensions``; ``output``: where
    ``response_format`` goes, see :mod:`hearth.wire.openai.completions`)."""

    name: str
    wire: str
    base_url: str
    key_env: tuple[str, ...]
    base_url_env: str | None
    key_required: bool
    vision: bool = False
    thinking: bool = False
    models: tuple[ModelRule, ...] = ()
    wire_options: Mapping[str, JsonValue] = field(default_factory=lambda: MappingProxyType({}))
    local: bool = False
    raw_completion: bool = False
    raw_wire_options: Mapping[str, JsonValue] = field(default_factory=lambda: MappingProxyType({}))
    embeddings: bool | None = None
    """Whether the endpoint serves an embeddings API. None: whether its wire format has one
    (OpenAI-compatible ``/embeddings``, Gemini, Ollama do; Anthropic does not)."""
    sampling: GenerationSettings = field(default_factory=GenerationSettings)
    """Default generation settings under every request's own (a ``[providers.NAME]`` table's
    ``sampling``)."""

    def __post_init__(self) -> None:
        check_format_name(self.wire, f"the {self.name} endpoint's wire format")

    @property
    def format(self) -> WireFormat:
        """The endpoint's wire format (its package is imported on first use)."""
        return get_format(self.wire)

    @property
    def embeds(self) -> bool:
        """The endpoint can embed (remote backends refuse ``embed`` up front when not)."""
        if self.embeddings is not None:
            return self.embeddings
        return self.format.embed is not None

    def capabilities(
        self, model: str, *, vision: bool | None = None, raw_completion: bool | None = None
    ) -> Capabilities:
        """What ``model`` on this endpoint can do; ``vision`` and ``raw_completion`` override
        the table (raw completion only where the wire format has a raw API)."""
        name = model.lower()
        found_vision = _first(self.models, name, "vision")
        found_thinking = _first(self.models, name, "thinking")
        if raw_completion is None:
            raw_completion = _pick(_first(self.models, name, "raw_completion"), self.raw_completion)
        return Capabilities(
            streaming=True,
            tools=True,
            structured_output=True,
            vision=vision if vision is not None else _pick(found_vision, self.vision),
            thinking=_pick(found_thinking, self.thinking),
            embeddings=self.embeds,
            accelerator="remote",
            raw_completion=raw_completion and self.format.raw is not None,
        )


def _first(rules: tuple[ModelRule, ...], model: str, attr: str) -> bool | None:
    for rule in rules:
        value: bool | None = getattr(rule, attr)
        if value is not None and fnmatchcase(model, rule.pattern.lower()):
            return value
    return None


def _pick(found: bool | None, default: bool) -> bool:
    return default if found is None else found


_REASONING_OPENAI = (
    # OpenAI's legacy /v1/completions serves these; its chat models answer it with a 404.
    ModelRule("gpt-3.5-turbo-instruct*", vision=False, raw_completion=True),
    ModelRule("davinci-002", vision=False, raw_completion=True),
    ModelRule("babbage-002", vision=False, raw_completion=True),
    ModelRule("ft:davinci-002:*", vision=False, raw_completion=True),
    ModelRule("ft:babbage-002:*", vision=False, raw_completion=True),
    ModelRule("gpt-3.5*", vision=False),
    ModelRule("o1-mini*", vision=False, thinking=True),
    ModelRule("o3-mini*", vision=False, thinking=True),
    ModelRule("o[0-9]*", thinking=True),
    ModelRule("gpt-5*", thinking=True),
    ModelRule("gpt-oss*", vision=False, thinking=True),
)
_OLLAMA_MODELS = (
    ModelRule("gemma3:270m*", vision=False),
    ModelRule("gemma3:1b*", vision=False),
    ModelRule("gemma3*", vision=True),
    ModelRule("*llava*", vision=True),
    ModelRule("*vision*", vision=True),
    ModelRule("*vl", vision=True),
    ModelRule("*vl:*", vision=True),
    ModelRule("*-vl*", vision=True),
    ModelRule("minicpm-v*", vision=True),
    ModelRule("moondream*", vision=True),
    ModelRule("llama4*", vision=True),
    ModelRule("mistral-small3.[12]*", vision=True),
    ModelRule("qwen3*", thinking=True),
    ModelRule("deepseek-r1*", thinking=True),
    ModelRule("gpt-oss*", thinking=True),
    ModelRule("magistral*", thinking=True),
)
_LOCAL_OPENAI_MODELS = (
    *_OLLAMA_MODELS,
    ModelRule("*gemma-3-270m*", vision=False),
    ModelRule("*gemma-3-1b*", vision=False),
    ModelRule("*gemma-3*", vision=True),
    ModelRule("*-vl-*", vision=True),
)
_MAX_TOKENS = MappingProxyType({"max_tokens_field": "max_tokens"})
_MAX_TOKENS_AND_SAMPLERS: Mapping[str, JsonValue] = MappingProxyType(
    {"max_tokens_field": "max_tokens", "sampler_extensions": True}
)
_SAMPLERS: Mapping[str, JsonValue] = MappingProxyType({"sampler_extensions": True})
# vLLM takes repeat_penalty as ``repetition_penalty`` (and ignores other unknown fields).
_VLLM_SAMPLERS: Mapping[str, JsonValue] = MappingProxyType(
    {"sampler_extensions": True, "repeat_penalty_field": "repetition_penalty"}
)
# Where each server takes the schema of a raw completion (hearth.wire.openai.completions).
_RAW_RESPONSE_FORMAT: Mapping[str, JsonValue] = MappingProxyType(
    {"sampler_extensions": True, "output": "response_format"}
)
_RAW_VLLM: Mapping[str, JsonValue] = MappingProxyType(
    {**_VLLM_SAMPLERS, "output": "response_format"}
)
_RAW_JSON_SCHEMA: Mapping[str, JsonValue] = MappingProxyType(
    {"sampler_extensions": True, "output": "json_schema"}
)

ENDPOINTS: Mapping[str, Endpoint] = MappingProxyType(
    {
        e.name: e
        for e in (
            Endpoint(
                "openai", "openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",),
                "OPENAI_BASE_URL", key_required=True, vision=True, models=_REASONING_OPENAI,
            ),
            Endpoint(
                "openai-responses", "responses", "https://api.openai.com/v1",
                ("OPENAI_API_KEY",), "OPENAI_BASE_URL", key_required=True, vision=True,
                models=_REASONING_OPENAI,
            ),
            Endpoint(
                "anthropic", "anthropic", "https://api.anthropic.com", ("ANTHROPIC_API_KEY",),
                "ANTHROPIC_BASE_URL", key_required=True, vision=True, thinking=True,
                models=(ModelRule("claude-3-[05]*", thinking=False),
                        ModelRule("claude-3-haiku*", thinking=False)),
            ),
            Endpoint(
                "gemini", "gemini", "https://generativelanguage.googleapis.com",
                ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "GEMINI_BASE_URL", key_required=True,
                vision=True, thinking=True,
                models=(ModelRule("gemini-1*", thinking=False),
                        ModelRule("gemini-2.0*", thinking=False),
                        ModelRule("gemma*", thinking=False)),
            ),
            Endpoint(
                "ollama", "ollama", "http://127.0.0.1:11434", ("OLLAMA_API_KEY",),
                "OLLAMA_HOST", key_required=False, models=_OLLAMA_MODELS, local=True,
                raw_completion=True,
            ),
            Endpoint(
                "lmstudio", "openai", "http://127.0.0.1:1234/v1", ("LMSTUDIO_API_KEY",), None,
                key_required=False, models=_LOCAL_OPENAI_MODELS, wire_options=_MAX_TOKENS,
                local=True, raw_completion=True,
            ),
            Endpoint(
                "llama-server", "openai", "http://127.0.0.1:8080/v1", ("LLAMA_API_KEY",), None,
                key_required=False, models=_LOCAL_OPENAI_MODELS,
                wire_options=_MAX_TOKENS_AND_SAMPLERS, local=True,
                raw_completion=True, raw_wire_options=_RAW_JSON_SCHEMA,
            ),
            Endpoint(
                "vllm", "openai", "http://127.0.0.1:8000/v1", ("VLLM_API_KEY",), None,
                key_required=False, models=_LOCAL_OPENAI_MODELS, wire_options=_VLLM_SAMPLERS,
                local=True, raw_completion=True, raw_wire_options=_RAW_VLLM,
            ),
            Endpoint(
                "hearth", "openai", "http://127.0.0.1:8080/v1", ("HEARTH_API_KEY",),
                "HEARTH_BASE_URL", key_required=False, models=_LOCAL_OPENAI_MODELS,
                wire_options=_SAMPLERS, local=True, raw_completion=True,
                raw_wire_options=_RAW_RESPONSE_FORMAT,
            ),
            Endpoint(
                "groq", "openai", "https://api.groq.com/openai/v1", ("GROQ_API_KEY",),
                "GROQ_BASE_URL", key_required=True,
                models=(ModelRule("*llama-4*", vision=True),), thinking=False, embeddings=False,
            ),
            Endpoint(
                "openrouter", "openai", "https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",),
                None, key_required=True, vision=True, wire_options=_MAX_TOKENS,
            ),
            Endpoint(
                "together", "openai", "https://api.together.xyz/v1", ("TOGETHER_API_KEY",),
                "TOGETHER_BASE_URL", key_required=True, wire_options=_MAX_TOKENS,
                models=(ModelRule("*vision*", vision=True), ModelRule("*-vl-*", vision=True),
                        ModelRule("*llama-4*", vision=True)),
            ),
            Endpoint(
                "deepseek", "openai", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",), None,
                key_required=True, wire_options=_MAX_TOKENS, embeddings=False,
                models=(ModelRule("deepseek-reasoner*", thinking=True),),
            ),
        )
    }
)  # fmt: skip


def get_endpoint(name: str) -> Endpoint:
    """The row called ``name``; an unknown name lists the known ones."""
    try:
        return ENDPOINTS[name]
    except KeyError:
        raise UnknownProviderError(name, list(ENDPOINTS)) from None


@dataclass(frozen=True, slots=True)
class ResolvedEndpoint:
    """Where one backend sends its requests and with which key.

    ``key_source`` says where the key came from (``"api_key="`` or the variable's name);
    ``withheld_key_env`` names an environment key that was set but not sent because ``base_url``
    points elsewhere."""

    endpoint: Endpoint
    base_url: str
    api_key: Secret | None = field(default=None, repr=False)
    key_source: str | None = None
    withheld_key_env: str | None = None


def resolve(
    endpoint: Endpoint,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ResolvedEndpoint:
    """The base URL and key for ``endpoint`` (see the module docstring for the rules)."""
    environ: Mapping[str, str] = os.environ if env is None else env
    configured = endpoint.base_url
    if endpoint.base_url_env and environ.get(endpoint.base_url_env, "").strip():
        configured = _normalize(endpoint, environ[endpoint.base_url_env], endpoint.base_url_env)
    url = configured if base_url is None else _normalize(endpoint, base_url, "base_url=")
    if api_key is not None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigurationError(
                f"api_key= for {endpoint.name} must be a non-empty string; "
                "leave it out to read the key from the environment"
            )
        return ResolvedEndpoint(endpoint, url, Secret(api_key.strip()), "api_key=")
    var, key = _env_key(endpoint, environ)
    if key is None and env is None:  # then a key saved with `hearth keys set`
        var, key = _saved_key(endpoint)
    home = _origin(url) == _origin(configured)
    if key is not None and home:
        return ResolvedEndpoint(endpoint, url, Secret(key), var)
    if endpoint.key_required and home:
        names = " or ".join(endpoint.key_env)
        raise ConfigurationError(
            f"{endpoint.name} needs an API key: set the environment variable {names}, "
            f"run `hearth keys set {endpoint.name}`, or pass api_key= to hearth.model()"
        )
    return ResolvedEndpoint(endpoint, url, None, None, var if key is not None else None)


def _env_key(endpoint: Endpoint, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    for var in endpoint.key_env:
        value = environ.get(var, "").strip()
        if value:
            return var, value
    return None, None


def _saved_key(endpoint: Endpoint) -> tuple[str | None, str | None]:
    from hearth.keys import stored_key

    key = stored_key(endpoint.name)
    return ("hearth keys", key) if key else (None, None)


def _normalize(endpoint: Endpoint, raw: str, source: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(f"{source} for {endpoint.name} must be a non-empty URL")
    value = raw.strip()
    normalize = endpoint.format.http.base_url
    if normalize is not None:
        value = normalize(value)
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{source} for {endpoint.name} must be an http:// or https:// URL with a host, "
            f"got {_strip_credentials(value)!r}"
        )
    try:
        _origin(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source} for {endpoint.name}: {exc}") from None
    return value.rstrip("/")


def _strip_credentials(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2])
    return urllib.parse.urlunsplit(parts._replace(query=""))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default
    except ValueError:
        raise ConfigurationError(
            f"the base URL {_strip_credentials(url)!r} has an invalid port"
        ) from None
    return parts.scheme, (parts.hostname or "").lower(), port


def _row_for_type(kind: str) -> Endpoint:
    """The built-in row a ``type = KIND`` table starts from: the row named KIND, else the
    first row of that wire format (``responses`` → ``openai-responses``)."""
    if kind in ENDPOINTS:
        return ENDPOINTS[kind]
    for row in ENDPOINTS.values():
        if row.wire == kind:
            return row
    raise ConfigurationError(f"no built-in endpoint speaks the {kind!r} wire format")


def endpoint_from_config(provider: ProviderConfig) -> Endpoint:
    """The endpoint a ``[providers.NAME]`` config table describes: the built-in row of its type
    (wire format, capabilities, wire options) at the configured base URL, whose key comes from
    the configured variable (required when one is named). ``raw_completion`` set in the table
    holds for every model of the endpoint, over the row's per-model rules; its ``sampling`` is
    the endpoint's default settings, and ``max_tokens_field`` goes into the wire options."""
    row = _row_for_type(provider.type)
    wire_options = row.wire_options
    if provider.max_tokens_field is not None:
        wire_options = MappingProxyType(
            {**row.wire_options, "max_tokens_field": provider.max_tokens_field}
        )
    key_env = (provider.api_key_env,) if provider.api_key_env else ()
    models = row.models
    if provider.raw_completion is not None:
        models = tuple(replace(rule, raw_completion=None) for rule in row.models)
    return replace(
        row,
        name=provider.name,
        base_url=provider.base_url or row.base_url,
        key_env=key_env,
        base_url_env=None,
        key_required=bool(key_env),
        models=models,
        raw_completion=row.raw_completion
        if provider.raw_completion is None
        else provider.raw_completion,
        wire_options=wire_options,
        sampling=provider.sampling,
    )
