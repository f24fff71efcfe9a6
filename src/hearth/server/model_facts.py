"""What the server can say about a model it serves: its file, size, digest, architecture,
parameter count, quantization, context window, template, sampling defaults, GGUF metadata and
capabilities (:class:`ModelFacts`), for routes that describe models (Ollama's ``/api/tags``,
``/api/show``, ``/api/ps``).

A local model's facts come from its loaded GGUF header (``LocalBackend.info``) and catalogue
entry; a remote model (or a backend that says nothing about a file) has only its name and its
capabilities. The digest is the file's SHA-256 where hearth knows it (a catalogue entry's, a
Hugging Face blob's name), else the SHA-256 of the file's path, size and modification time: a
stable identity that changes when the file does, without hashing gigabytes per request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import prod
from pathlib import Path

from hearth.backends.base import Capabilities
from hearth.catalog import hf_cache
from hearth.catalog.entries import CatalogEntry
from hearth.catalog.gguf_file import GGUFInfo
from hearth.catalog.gguf_values import ArraySummary, MetadataValue
from hearth.messages import JsonValue
from hearth.server.served import Served
from hearth.settings import GenerationSettings


@dataclass(frozen=True)
class ModelFacts:
    """One served model, described (see the module docstring)."""

    name: str
    size: int = 0
    modified_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    digest: str = ""
    format: str = ""
    family: str = ""
    parameter_count: int | None = None
    quantization: str | None = None
    context_length: int | None = None
    capabilities: tuple[str, ...] = ()
    template: str = ""
    sampling: GenerationSettings = field(default_factory=GenerationSettings)
    metadata: Mapping[str, JsonValue] = field(default_factory=dict)
    source: str = ""
    loaded: bool = False
    memory_bytes: int | None = None
    gpu_bytes: int = 0
    backend: str = ""
    layers: tuple[int, int] | None = None
    expires_at: datetime | None = None


def capability_names(caps: Capabilities) -> tuple[str, ...]:
    """``completion`` (it chats), ``tools``, ``vision``, ``thinking``, and ``embedding`` for a
    model that only embeds (one that streams no text)."""
    chats = caps.streaming or caps.raw_completion
    names = ["completion"] if chats else []
    flags = (("tools", caps.tools), ("vision", caps.vision), ("thinking", caps.thinking))
    names += [name for name, on in flags if on and chats]
    if caps.embeddings and not chats:
        names.append("embedding")
    return tuple(names)


def model_facts(served: Served, *, expires_in: float | None = None) -> ModelFacts:
    """The facts of ``served``: from its GGUF header and entry when its backend has them.
    ``expires_in``: seconds until it is unloaded when idle (None: never)."""
    backend = served.backend
    caps = backend.capabilities()
    info = getattr(backend, "info", None)
    memory, gpu, where = _placement(caps)
    now = datetime.now(UTC)
    base = ModelFacts(
        name=served.id,
        modified_at=datetime.fromtimestamp(served.created, UTC),
        digest=hashlib.sha256(served.id.encode()).hexdigest(),
        context_length=caps.context_length,
        capabilities=capability_names(caps),
        source=backend.name,
        loaded=served.loaded,
        memory_bytes=memory,
        gpu_bytes=gpu,
        backend=where,
        layers=_layers(caps),
        expires_at=None if expires_in is None else now + timedelta(seconds=expires_in),
    )
    if not isinstance(info, GGUFInfo):
        return base
    entry = getattr(backend, "entry", None)
    entry = entry if isinstance(entry, CatalogEntry) else None
    return _local(base, info, entry)


def _local(base: ModelFacts, info: GGUFInfo, entry: CatalogEntry | None) -> ModelFacts:
    stat = info.path.stat()
    count = info.metadata.get("general.parameter_count")
    return ModelFacts(
        name=base.name,
        size=info.size,
        modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
        digest=_digest(info.path, entry, stat.st_size, stat.st_mtime_ns),
        format="gguf",
        family=info.architecture or "",
        parameter_count=count if isinstance(count, int) else _count_parameters(info),
        quantization=info.quantization,
        context_length=base.context_length or info.context_length,
        capabilities=base.capabilities,
        template=info.chat_template or "",
        sampling=entry.sampling if entry is not None else GenerationSettings(),
        metadata={k: _json(v) for k, v in info.metadata.items()},
        source=str(info.path),
        loaded=base.loaded,
        memory_bytes=base.memory_bytes,
        gpu_bytes=base.gpu_bytes,
        backend=base.backend,
        layers=base.layers,
        expires_at=base.expires_at,
    )


def _layers(caps: Capabilities) -> tuple[int, int] | None:
    where = caps.placement
    return None if where is None else (where.layers_offloaded, where.layers)


def _placement(caps: Capabilities) -> tuple[int | None, int, str]:
    """A loaded local model's memory, the part of it on the GPU, and its backend, by
    llama.cpp's figures (None, 0, "" for another model)."""
    where = caps.placement
    if where is None:
        return None, 0, ""
    return where.memory_bytes, where.gpu_bytes, where.backend


def _digest(path: Path, entry: CatalogEntry | None, size: int, mtime_ns: int) -> str:
    if entry is not None and entry.sha256 is not None and entry.convert is None:
        return entry.sha256
    blob = hf_cache.blob_sha256(path)
    if blob is not None:
        return blob
    return hashlib.sha256(f"{path.resolve()}\0{size}\0{mtime_ns}".encode()).hexdigest()


def _count_parameters(info: GGUFInfo) -> int:
    return sum(prod(t.shape) for t in info.tensors)


def _json(value: MetadataValue) -> JsonValue:
    if isinstance(value, ArraySummary):
        return None  # too long to keep (a vocabulary): Ollama's routes send []
    if isinstance(value, tuple):
        return list(value)
    return value
