"""``hearth run -a FILE``: attachments. An image (PNG, JPEG, GIF, WebP) becomes an
:class:`~hearth.messages.ImagePart` of the prompt, for vision models; a UTF-8 text file is
inlined into the prompt under its file name. Anything else is refused with a clear error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import InvalidRequestError
from hearth.messages import ImagePart, Part, TextPart

MAX_TEXT_BYTES = 10 * 1024 * 1024
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True, slots=True)
class Attachments:
    texts: tuple[str, ...]
    images: tuple[ImagePart, ...]

    def prompt_parts(self, prompt: str) -> list[Part]:
        """The user message's parts: the inlined files, the prompt, then the images."""
        text = "\n\n".join([*self.texts, prompt]) if self.texts else prompt
        return [TextPart(text), *self.images]


def image_type(data: bytes) -> str | None:
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def read_attachments(paths: Sequence[Path]) -> Attachments:
    texts: list[str] = []
    images: list[ImagePart] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {path}: {exc.strerror or exc}") from None
        media_type = image_type(data)
        if media_type is not None:
            images.append(ImagePart(data, media_type))
            continue
        if len(data) > MAX_TEXT_BYTES or b"\x00" in data:
            raise InvalidRequestError(_unsupported(path))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequestError(_unsupported(path)) from None
        texts.append(f"{path.name}:\n```\n{text.rstrip()}\n```")
    return Attachments(tuple(texts), tuple(images))


def _unsupported(path: Path) -> str:
    return (
        f"cannot attach {path}: it is neither an image (PNG, JPEG, GIF, WebP) nor UTF-8 text"
        f" under {MAX_TEXT_BYTES // (1024 * 1024)} MiB"
    )
