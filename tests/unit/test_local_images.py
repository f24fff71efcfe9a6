"""Images for local vision models, the pure parts: format sniffing and bounds before decoding,
the prompt's image positions (pseudo tokens, the prefix cache's reuse clamped to whole images),
image markers in messages, and the projector's place in the catalogue and the config."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from hearth.backends.local.images import (
    ImageLimits,
    check_count,
    decode_image,
    sniff_format,
)
from hearth.backends.local.prefix import SlotTable
from hearth.backends.local.vision import ImagePrompt, ImageSpan, image_token
from hearth.backends.local.vision_setup import marked_messages, projector_ref, request_images
from hearth.catalog.entries import HFSource, PathSource, find_entry
from hearth.catalog.store import ModelStore
from hearth.config import load_config
from hearth.config.render import config_toml
from hearth.errors import ConfigFileError, InvalidRequestError
from hearth.messages import ImagePart, Message, TextPart

MARKER = "<__media__>"


def encoded(fmt: str, size: tuple[int, int] = (20, 10), color: str = "red", **kw: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt, **kw)
    return out.getvalue()


def noisy(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((128, 128), 64).convert("RGB").save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "name"), [("PNG", "PNG"), ("JPEG", "JPEG"), ("WEBP", "WebP"), ("GIF", "GIF")]
)
def test_each_accepted_format_decodes_to_rgb(fmt: str, name: str) -> None:
    data = encoded(fmt)
    assert sniff_format(data) == name
    image = decode_image(ImagePart(data, "image/png"), "image 1")  # the bytes decide, not the type
    assert (image.width, image.height) == (20, 10)
    assert len(image.rgb) == 20 * 10 * 3
    assert image.rgb[:3][0] > 200  # red
    assert len(image.digest) == 64


def test_a_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ("blue", "red")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    image = decode_image(ImagePart(out.getvalue(), "image/gif"), "image 1")
    r, _, b = image.rgb[:3]
    assert b > 200 and r < 50


def test_the_digest_tells_images_apart() -> None:
    red = decode_image(ImagePart(encoded("PNG", color="red"), "image/png"), "a")
    blue = decode_image(ImagePart(encoded("PNG", color="blue"), "image/png"), "b")
    again = decode_image(ImagePart(encoded("PNG", color="red"), "image/png"), "c")
    assert red.digest != blue.digest and red.digest == again.digest
    assert image_token(red.digest) < 0 and image_token(red.digest) != image_token(blue.digest)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.7 not an image at all", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "cannot be read"),
        (noisy("PNG")[:3000], "cannot be decoded"),
        (noisy("WEBP")[:3000], "cannot be"),
    ],
)
def test_what_is_not_a_readable_image_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as caught:
        decode_image(ImagePart(data, "image/png"), "image 2")
    assert str(caught.value).startswith("image 2: ")


def test_bounds_on_bytes_pixels_and_count() -> None:
    data = encoded("PNG", size=(100, 100))
    with pytest.raises(InvalidRequestError, match="at most 50 bytes"):
        decode_image(ImagePart(data, "image/png"), "image 1", ImageLimits(max_bytes=50))
    with pytest.raises(InvalidRequestError, match=r"100x100 pixels.*at most 9999 pixels"):
        decode_image(ImagePart(data, "image/png"), "image 1", ImageLimits(max_pixels=9_999))
    parts = [ImagePart(data, "image/png")] * 3
    check_count(parts, ImageLimits(max_images=3))
    with pytest.raises(InvalidRequestError, match=r"3 images; .* at most 2"):
        check_count(parts, ImageLimits(max_images=2))


def test_the_pixel_bound_is_checked_before_decoding() -> None:
    # a PNG that claims 100000 x 100000 pixels in its header (10^10 pixels): refused unread
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    data = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )
    with pytest.raises(InvalidRequestError, match=r"100000x100000 pixels|cannot be read"):
        decode_image(ImagePart(data, "image/png"), "image 1")


def spans(*where: tuple[int, int]) -> ImagePrompt:
    prompt = ImagePrompt()
    for start, n in where:
        prompt.add(ImageSpan(start, n, "0" * 64, None))
    return prompt


def test_text_stops_where_an_image_starts() -> None:
    prompt = spans((5, 16), (30, 16))
    assert prompt.text_end(0, 63) == 5
    assert prompt.text_end(21, 63) == 30
    assert prompt.text_end(21, 25) == 25
    assert prompt.text_end(46, 100) == 100
    assert prompt.at(5) is prompt.spans[0] and prompt.at(30) is prompt.spans[1]
    assert prompt.at(6) is None and prompt.at(0) is None


def test_a_cached_prefix_is_reused_up_to_whole_images_only() -> None:
    prompt = spans((5, 16), (30, 16))
    assert [prompt.clamp(n) for n in (3, 5, 6, 20, 21, 25, 31, 46, 50)] == [
        3, 5, 5, 5, 21, 25, 30, 46, 50,
    ]  # fmt: skip


def test_the_prefix_cache_separates_two_images_with_the_same_text() -> None:
    text_a, text_b = [1, 2, 3], [7, 8, 9]
    red, blue = image_token("a" * 64), image_token("b" * 64)
    with_red = [*text_a, *[red] * 4, *text_b]
    with_blue = [*text_a, *[blue] * 4, *text_b]
    table = SlotTable(2, budget=1000)
    first = table.plan(with_red)
    assert first is not None
    table.start(first, with_red)
    table.extend(first.slot, with_red)
    table.release(first.slot)
    plan = table.plan(with_blue)
    assert plan is not None and plan.reuse == len(text_a)  # not one position of the image
    again = table.plan(with_red)
    assert again is not None and again.reuse == len(with_red) - 1


def test_images_become_markers_where_they_sit() -> None:
    image = ImagePart(encoded("PNG"), "image/png")
    messages = [
        Message.system("Be brief."),
        Message.user([TextPart("Compare "), image, TextPart(" and "), image]),
    ]
    assert request_images(messages) == [image, image]
    marked = marked_messages(messages, MARKER)
    assert marked[0] is messages[0]
    assert [p.text for p in marked[1].parts if isinstance(p, TextPart)] == [
        "Compare ", MARKER, " and ", MARKER,
    ]  # fmt: skip


def test_text_holding_the_marker_is_refused() -> None:
    messages = [
        Message.user([TextPart(f"sneaky {MARKER}"), ImagePart(encoded("PNG"), "image/png")])
    ]
    with pytest.raises(InvalidRequestError, match=r"message 0 \(user\).*image marker"):
        marked_messages(messages, MARKER)


def test_vision_entries_name_their_projector(tmp_path: Path) -> None:
    entry = find_entry("smolvlm2-256m")
    assert "vision" in entry.capabilities
    projector = entry.projector
    assert projector is not None and isinstance(projector.source, HFSource)
    assert projector.source.file.startswith("mmproj-")
    assert find_entry("smollm2").projector is None
    store = ModelStore(tmp_path)
    ref = projector_ref(None, None, entry, store)
    assert ref is not None and ref.entry is not None and ref.entry.name == "smolvlm2-256m.mmproj"
    assert projector_ref(None, None, find_entry("smollm2"), store) is None
    with pytest.raises(InvalidRequestError, match="mmproj_sha256 is given without mmproj"):
        projector_ref(None, "a" * 64, find_entry("smollm2"), store)


def test_the_mmproj_option_takes_a_path_with_its_checksum(tmp_path: Path) -> None:
    file = tmp_path / "proj.gguf"
    file.write_bytes(b"GGUF")
    ref = projector_ref(str(file), "AB" * 32, None, ModelStore(tmp_path / "store"))
    assert ref is not None and ref.path == file
    assert ref.entry is not None and ref.entry.sha256 == "ab" * 32


def test_models_tables_take_an_mmproj(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[[models]]\nname = "eyes"\npath = "m.gguf"\nmmproj = "p.gguf"\n'
        f'mmproj_sha256 = "{"CD" * 32}"\n\n'
        '[[models]]\nname = "far"\nhf = "org/repo/m.gguf"\nmmproj = "hf:org/repo/mmproj.gguf"\n'
    )
    loaded = load_config(config)
    eyes, far = loaded.models
    assert eyes.mmproj == PathSource(tmp_path / "p.gguf") and eyes.mmproj_sha256 == "cd" * 32
    assert far.mmproj == HFSource("org/repo", "mmproj.gguf")
    text = config_toml(loaded)
    assert 'mmproj = "hf:org/repo/mmproj.gguf"' in text
    assert f'mmproj = "{tmp_path / "p.gguf"}"' in text


def test_an_mmproj_checksum_alone_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[[models]]\nname = "x"\npath = "m.gguf"\nmmproj_sha256 = "{"a" * 64}"\n')
    with pytest.raises(ConfigFileError, match="mmproj_sha256"):
        load_config(config)


def test_an_image_part_from_a_file_or_a_data_url(tmp_path: Path) -> None:
    import base64

    data = encoded("PNG")
    (tmp_path / "photo.png").write_bytes(data)
    assert ImagePart.from_file(tmp_path / "photo.png") == ImagePart(data, "image/png")
    assert ImagePart.from_file(tmp_path / "photo.png", "image/webp").media_type == "image/webp"
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert ImagePart.from_data_url(url) == ImagePart(data, "image/png")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InvalidRequestError, match="not an image file name"):
        ImagePart.from_file(tmp_path / "notes.txt")
    with pytest.raises(InvalidRequestError, match="cannot read"):
        ImagePart.from_file(tmp_path / "gone.png")
    with pytest.raises(InvalidRequestError, match="remote URLs are not fetched"):
        ImagePart.from_data_url("https://example.com/cat.png")
    with pytest.raises(InvalidRequestError, match="not valid base64"):
        ImagePart.from_data_url("data:image/png;base64,@@@")
