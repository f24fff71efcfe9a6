"""Images for a local vision model: checked and decoded before any C code sees them.

llama.cpp's multimodal library (mtmd) decodes images with stb_image, which reads neither WebP
nor a malformed file politely. So every :class:`~hearth.messages.ImagePart` of a local request
is decoded here, on the caller's thread, by Pillow (imported on the first image only; the
``vision`` extra installs it): the format is sniffed from the bytes (PNG, JPEG, WebP, GIF; a
GIF's first frame), the byte size, the pixel count (read from the header, before decoding) and
the number of images per request are bounded, and the pixels become RGB, which mtmd takes as
they are (``mtmd_bitmap_init``). Anything else is an :class:`~hearth.errors.InvalidRequestError`
naming the image and the problem, never a crash of the engine's worker.

Each image is known by the SHA-256 of its bytes (:attr:`DecodedImage.digest`): the prefix cache
keys an image's KV by it (:mod:`hearth.backends.local.vision`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hearth.errors import InvalidRequestError, UnsupportedFeatureError
from hearth.messages import ImagePart

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""The largest image file accepted (bytes)."""
MAX_IMAGE_PIXELS = 40_000_000
"""The most pixels (width times height) an image may have; larger ones are refused unread."""
MAX_IMAGES = 16
"""The most images one request may hold."""

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
FORMATS = ("PNG", "JPEG", "WebP", "GIF")


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """Bounds on the images of one request."""

    max_bytes: int = MAX_IMAGE_BYTES
    max_pixels: int = MAX_IMAGE_PIXELS
    max_images: int = MAX_IMAGES


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An image's RGB pixels (``width * height * 3`` bytes, rows top first) and its digest."""

    width: int
    height: int
    rgb: bytes
    digest: str
    """The SHA-256 of the file's bytes, in hex."""


def sniff_format(data: bytes) -> str | None:
    """``PNG``, ``JPEG``, ``GIF`` or ``WebP`` from the bytes' magic number; None otherwise."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def check_count(images: Sequence[ImagePart], limits: ImageLimits) -> None:
    if len(images) > limits.max_images:
        raise InvalidRequestError(
            f"the request holds {len(images)} images; a local model takes at most "
            f"{limits.max_images} per request"
        )


def decode_image(part: ImagePart, where: str, limits: ImageLimits | None = None) -> DecodedImage:
    """``part`` checked and decoded to RGB. ``where`` names it in errors (``image 1``)."""
    limits = limits or ImageLimits()
    data = part.data
    if not data:
        raise InvalidRequestError(f"{where}: the image is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise InvalidRequestError(
            f"{where}: the image is {len(data)} bytes; a local model takes images of at most "
            f"{limits.max_bytes} bytes. Send a smaller or more compressed one"
        )
    kind = sniff_format(data)
    if kind is None:
        raise InvalidRequestError(
            f"{where}: the data is not an image a local model reads (its bytes are not "
            f"{', '.join(FORMATS)}; declared {part.media_type})"
        )
    image = _open(data, where, kind)
    width, height = image.size
    if width < 1 or height < 1 or width * height > limits.max_pixels:
        raise InvalidRequestError(
            f"{where}: the image is {width}x{height} pixels; a local model takes at most "
            f"{limits.max_pixels} pixels. Scale it down first"
        )
    try:
        image.seek(0)  # a GIF's (or an animated WebP's) first frame
        rgb = image.convert("RGB").tobytes()
    except Exception as exc:  # Pillow raises many types on truncated or corrupt data
        raise InvalidRequestError(f"{where}: the {kind} image cannot be decoded ({exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    return DecodedImage(width, height, rgb, digest)


def _open(data: bytes, where: str, kind: str) -> Image:
    try:
        from PIL import Image
    except ImportError:
        raise UnsupportedFeatureError(
            "images for local models are decoded by Pillow, which is not installed; "
            "`pip install 'hearthlm[vision]'` (or `pip install pillow`)"
        ) from None
    try:
        image = Image.open(io.BytesIO(data), formats=[kind.upper()])
    except Exception as exc:  # UnidentifiedImageError, DecompressionBombError, OSError …
        raise InvalidRequestError(f"{where}: the {kind} image cannot be read ({exc})") from None
    return image
