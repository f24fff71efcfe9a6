"""What the local backend does for a vision model: find, fetch and check its projector file,
load it, and turn a request's images into the prompt's image positions.

The projector (``mmproj``) is named by the ``mmproj=`` option (a path or ``hf:ORG/REPO/FILE``),
else by the model's catalogue entry (``mmproj = …`` in a ``[[models]]`` table). Its file goes
through the model store like a model's: an ``hf:`` file is downloaded into the Hugging Face cache,
its SHA-256 is checked when one is given (``mmproj_sha256``), and its GGUF header is validated
(:func:`~hearth.catalog.gguf_file.read_gguf`) before llama.cpp opens it; it must be a ``clip``
GGUF, the kind llama.cpp's converter writes projectors as.

In a request, each :class:`~hearth.messages.ImagePart` becomes mtmd's marker in the text the
chat template renders (:func:`marked_messages`), so the image sits where the message put it,
and the model's own image tokens surround it (mtmd adds them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from hearth.catalog.entries import Catalog, CatalogEntry
from hearth.catalog.gguf_file import read_gguf
from hearth.catalog.resolve import LocalModelRef, resolve_local
from hearth.catalog.store import ModelStore
from hearth.errors import InvalidModelFileError, InvalidRequestError
from hearth.messages import ImagePart, Message, Part, TextPart

if TYPE_CHECKING:
    from hearth.backends.local.engine import LlamaEngine
    from hearth.backends.local.vision import ImagePrompt, Projector
    from hearth.catalog.progress import Progress


def projector_ref(
    spec: str | None, sha256: str | None, entry: CatalogEntry | None, store: ModelStore
) -> LocalModelRef | None:
    """The projector named by the ``mmproj`` option, else by the model's entry; None if none."""
    if spec is not None:
        if not spec.strip():
            raise InvalidRequestError("mmproj is empty; give the projector's path or hf: name")
        return resolve_local(spec, store, Catalog(()), sha256)
    own = entry.projector if entry is not None else None
    if own is None:
        if sha256 is not None:
            raise InvalidRequestError("mmproj_sha256 is given without mmproj (no projector)")
        return None
    if sha256 is not None:
        own = replace(own, sha256=sha256)
    return LocalModelRef(store.path_for(own), own)


def fetch_projector(ref: LocalModelRef, store: ModelStore, progress: Progress) -> Path:
    """The projector's verified file: fetched (an ``hf:`` one), its SHA-256 checked when
    known, its GGUF header validated, and it must be a projector (``clip``) file."""
    path = store.ensure(ref.entry, progress=progress) if ref.entry is not None else ref.path
    info = read_gguf(path)
    if info.architecture != "clip":
        raise InvalidModelFileError(
            str(path),
            f"it is not a vision projector (its general.architecture is "
            f"{info.architecture!r}, not 'clip'); mmproj takes the model's mmproj GGUF",
        )
    return path


def load_projector(engine: LlamaEngine, path: Path) -> Projector:
    from hearth.backends.local.vision import Projector

    return Projector(engine, path)


def request_images(messages: Sequence[Message]) -> list[ImagePart]:
    """The images of ``messages``, in order."""
    return [part for m in messages for part in m.parts if isinstance(part, ImagePart)]


def marked_messages(messages: Sequence[Message], marker: str) -> list[Message]:
    """``messages`` with each image replaced by ``marker`` text (where the image sits); text
    that already holds the marker is refused (it would take an image's place)."""
    out: list[Message] = []
    for index, message in enumerate(messages):
        parts: list[Part] = []
        for part in message.parts:
            if isinstance(part, ImagePart):
                parts.append(TextPart(marker))
                continue
            if isinstance(part, TextPart) and marker in part.text:
                raise InvalidRequestError(
                    f"message {index} ({message.role}): its text holds {marker!r}, the image "
                    "marker of this model's projector; remove it"
                )
            parts.append(part)
        out.append(Message(message.role, tuple(parts)) if parts != list(message.parts) else message)
    return out


def tokenize_with_images(
    projector: Projector, text: str, images: Sequence[ImagePart], *, add_special: bool
) -> tuple[list[int], ImagePrompt]:
    """The prompt positions of ``text`` (holding one marker per image) and ``images``, which
    are checked and decoded first (:mod:`hearth.backends.local.images`)."""
    from hearth.backends.local.images import ImageLimits, check_count, decode_image

    limits = ImageLimits()
    check_count(images, limits)
    decoded = [decode_image(part, f"image {i + 1}", limits) for i, part in enumerate(images)]
    return projector.tokenize(text, decoded, add_special=add_special)
