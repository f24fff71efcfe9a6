"""Ollama's model routes, for ``hearth serve``: ``/api/tags``, ``/api/show``, ``/api/ps``,
``/api/version``, and the status lines of ``/api/pull``. Pure: no I/O; what the server knows
about a model comes in as a :class:`ModelDescription`.

* Names are the served models' names as the server was started with them (``local:smollm2``);
  inbound, a trailing ``:latest`` (the tag Ollama's clients add to a bare name) is dropped
  (:func:`model_name`), and the legacy ``name`` field is read where ``model`` is absent.
* ``details``: ``format`` ``"gguf"`` for local models (empty for remote ones), ``family`` the
  GGUF architecture, ``parameter_size`` as Ollama writes it (``"135M"``, ``"8.0B"``) and
  ``quantization_level`` the file type (``"Q4_1"``).
* ``digest``: the model file's SHA-256 where hearth knows it (catalogue models, Hugging Face
  blobs), else a stable identity the server computes (see :mod:`hearth.server.model_facts`).
* ``/api/show``: ``model_info`` holds the GGUF header's metadata (long arrays such as the
  vocabulary as ``[]``, ``verbose`` or not), with ``<arch>.context_length`` set to the window
  the model is *served* with — the most ``num_ctx`` may ask for — rather than the length it
  was trained for. ``template``
  is the model's own chat template (Jinja, as the GGUF file holds it, not a Go template);
  ``parameters`` the sampling defaults hearth applies, one ``name value`` line each;
  ``capabilities`` among ``completion``, ``tools``, ``vision``, ``thinking``, ``embedding``.
* ``/api/ps``: the loaded models; they stay loaded while the server runs, so ``expires_at`` is
  far in the future and ``size_vram`` is 0 (hearth runs models on the CPU).
* ``/api/version``: :data:`API_VERSION`, the version of Ollama's API whose routes and fields
  this implements (clients compare it to enable features), not hearth's own version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from hearth.errors import InvalidRequestError
from hearth.messages import JsonObject, JsonValue
from hearth.settings import GenerationSettings
from hearth.wire.ollama.chat import options_to_wire

API_VERSION = "0.11.0"
"""The Ollama release whose API this serves: tools streamed as calls, ``think`` with levels,
``/api/show`` capabilities."""
NEVER = "9999-12-31T23:59:59Z"
"""``expires_at`` of a model that stays loaded while the server runs."""
_TAG = ":latest"


class ModelDescription(Protocol):
    """What the server tells these routes about one served model."""

    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def modified_at(self) -> datetime: ...
    @property
    def digest(self) -> str: ...
    @property
    def format(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def parameter_count(self) -> int | None: ...
    @property
    def quantization(self) -> str | None: ...
    @property
    def context_length(self) -> int | None:
        """The window the model is served with (None: the backend does not say)."""
        ...

    @property
    def memory_bytes(self) -> int | None:
        """Memory the loaded model takes (weights and KV cache; None: not known)."""
        ...

    @property
    def gpu_bytes(self) -> int:
        """The part of it in GPU memory."""
        ...

    @property
    def backend(self) -> str:
        """Where it runs (``CPU``, ``CUDA``, ``Metal`` …; empty: not known)."""
        ...

    @property
    def layers(self) -> tuple[int, int] | None:
        """Layers offloaded to the GPU, of all (None: not known)."""
        ...

    @property
    def expires_at(self) -> datetime | None:
        """When it is unloaded if idle (None: never)."""
        ...

    @property
    def capabilities(self) -> Sequence[str]:
        """Among ``completion``, ``tools``, ``vision``, ``thinking``, ``embedding``."""
        ...

    @property
    def template(self) -> str: ...
    @property
    def sampling(self) -> GenerationSettings: ...
    @property
    def metadata(self) -> Mapping[str, JsonValue]:
        """The GGUF header's metadata; arrays too long to keep are None."""
        ...

    @property
    def source(self) -> str:
        """Where the model comes from: a file path, or the remote model's name."""
        ...


def model_name(body: JsonObject, *, what: str = "model") -> str:
    """The model a request names (``model``, or the legacy ``name``), without ``:latest``."""
    name = body.get("model") or body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestError(f"model: required, the name of the {what}")
    name = name.strip()
    return name[: -len(_TAG)] if name.lower().endswith(_TAG) else name


def parameter_size(count: int | None) -> str:
    """A parameter count as Ollama writes it: ``"135M"``, ``"8.0B"``; ``""`` when unknown."""
    if count is None:
        return ""
    for scale, suffix, digits in ((1e9, "B", 1), (1e6, "M", 0), (1e3, "K", 0)):
        if count >= scale:
            return f"{count / scale:.{digits}f}{suffix}"
    return str(count)


def details(model: ModelDescription) -> JsonObject:
    families: JsonValue = [model.family] if model.family else None
    return {
        "parent_model": "",
        "format": model.format,
        "family": model.family,
        "families": families,
        "parameter_size": parameter_size(model.parameter_count),
        "quantization_level": model.quantization or "",
    }


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _entry(model: ModelDescription) -> JsonObject:
    return {
        "name": model.name,
        "model": model.name,
        "modified_at": _iso(model.modified_at),
        "size": model.size,
        "digest": model.digest,
        "details": details(model),
    }


def tags_to_wire(models: Sequence[ModelDescription]) -> JsonObject:
    """``/api/tags``: the models this server serves."""
    return {"models": [_entry(m) for m in models]}


def ps_to_wire(models: Sequence[ModelDescription]) -> JsonObject:
    """``/api/ps``: the loaded models (the caller passes only those)."""
    out: list[JsonValue] = []
    for m in models:
        entry = _entry(m)
        del entry["modified_at"]
        size = m.memory_bytes if m.memory_bytes is not None else m.size
        expires = NEVER if m.expires_at is None else _iso(m.expires_at)
        entry.update({"size": size, "expires_at": expires, "size_vram": m.gpu_bytes})
        if m.backend:
            entry["backend"] = m.backend  # hearth's: Ollama's clients ignore it
        if m.layers is not None:
            entry["layers_offloaded"], entry["layers"] = m.layers  # hearth's too
        if m.context_length is not None:
            entry["context_length"] = m.context_length
        out.append(entry)
    return {"models": out}


def parameters_text(model: ModelDescription) -> str:
    """``/api/show``'s ``parameters``: one ``name value`` line per default, as Ollama writes
    them (strings quoted, one ``stop`` line per string)."""
    lines: list[str] = []
    if model.context_length is not None:
        lines.append(f"{'num_ctx':<30} {model.context_length}")
    for name, value in options_to_wire(model.sampling).items():
        values = value if isinstance(value, list) else [value]
        lines += [f"{name:<30} {json.dumps(v, ensure_ascii=False)}" for v in values]
    return "\n".join(lines)


def model_info(model: ModelDescription) -> JsonObject:
    """``/api/show``'s ``model_info``: the GGUF metadata, with the served window."""
    info: JsonObject = {}
    for key, value in model.metadata.items():
        if key != "tokenizer.chat_template":  # that is the show answer's ``template``
            info[key] = [] if value is None else value  # a long array: [] as Ollama sends it
    architecture = model.metadata.get("general.architecture")
    if isinstance(architecture, str) and model.context_length is not None:
        info[f"{architecture}.context_length"] = model.context_length
    if model.parameter_count is not None:
        info.setdefault("general.parameter_count", model.parameter_count)
    return info


def _modelfile(model: ModelDescription) -> str:
    lines = ["# Modelfile generated by hearth serve", f"FROM {model.source}"]
    if model.template:
        lines.append(f'TEMPLATE """{model.template}"""')
    lines += [f"PARAMETER {line}" for line in parameters_text(model).splitlines()]
    return "\n".join(lines) + "\n"


def show_to_wire(model: ModelDescription) -> JsonObject:
    """``/api/show``. Long arrays (the vocabulary) are ``[]``; hearth does not keep them, so
    ``verbose`` cannot fill them in."""
    capabilities: list[JsonValue] = list(model.capabilities)
    return {
        "license": "",
        "modelfile": _modelfile(model),
        "parameters": parameters_text(model),
        "template": model.template,
        "details": details(model),
        "model_info": model_info(model),
        "capabilities": capabilities,
        "modified_at": _iso(model.modified_at),
    }


def version_to_wire() -> JsonObject:
    """``/api/version``."""
    return {"version": API_VERSION}


def pull_line(
    status: str, *, digest: str | None = None, total: int | None = None, completed: int = 0
) -> JsonObject:
    """One ``/api/pull`` status line: a phase (``{"status": "pulling manifest"}``), or bytes
    done of one file (``digest``, ``total``, ``completed``)."""
    line: JsonObject = {"status": status}
    if digest is not None:
        line["digest"] = digest
    if total is not None:
        line["total"] = total
        line["completed"] = completed
    return line
