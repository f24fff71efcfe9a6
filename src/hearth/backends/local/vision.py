"""A vision model's projector (``mmproj``), through llama.cpp's multimodal library (mtmd).

A vision GGUF comes as two files: the language model, and a projector that turns an image into
embeddings in the language model's input space. :class:`Projector` loads the projector beside a
loaded :class:`~hearth.backends.local.engine.LlamaEngine` (``mtmd_init_from_file``) and does two
things:

* :meth:`Projector.tokenize`, on the caller's thread: the chat template's text, with mtmd's
  marker (:attr:`Projector.marker`) where each image sits, and the decoded images
  (:mod:`hearth.backends.local.images`) become an :class:`ImagePrompt`. ``mtmd_tokenize`` adds the
  model's own image begin/end tokens around each image; text becomes token ids, and each image
  a run of *image positions*. The prompt keeps one int per position, so the scheduler and the
  prefix cache handle it like any prompt: an image's positions hold a negative pseudo token
  derived from the image's SHA-256 (:func:`image_token`), never a vocabulary id. Two prompts
  with the same text and different images therefore differ at the image's first position, and
  the prefix cache never shares KV past it; the same image again matches, and its KV is reused.
* :meth:`Projector.feed`, on the engine's worker thread: when a sequence reaches an image in its
  prompt, the image is encoded (``mtmd_encode_chunk``) and its embeddings decoded into that
  sequence's KV at its positions (a ``llama_batch`` of embeddings, split into ``n_batch``
  pieces). It runs between two decode steps: the other sequences wait for that image's encode
  and decode only, then go on (the text around the image goes through the normal batches).

Not supported (refused when the projector loads): projectors whose positions are not one per
embedding (M-RoPE: Qwen2-VL and its kin) and audio projectors.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hearth.errors import InvalidRequestError, ModelLoadError

if TYPE_CHECKING:
    from hearth.backends.local.engine import LlamaEngine
    from hearth.backends.local.images import DecodedImage

_CHUNK_TEXT = 0
_CHUNK_IMAGE = 1


def image_token(digest: str) -> int:
    """The pseudo token of an image's positions: negative (no vocabulary id is), from its
    SHA-256, so different images differ and the same image is the same."""
    return -1 - (int(digest[:15], 16))


@dataclass(eq=False)
class ImageSpan:
    """One image of a prompt: ``n`` positions from ``start``, and mtmd's chunk to encode."""

    start: int
    n: int
    digest: str
    chunk: Any  # an owned mtmd_input_chunk*, freed by ImagePrompt.close
    non_causal: bool = False

    @property
    def end(self) -> int:
        return self.start + self.n


@dataclass(eq=False)
class ImagePrompt:
    """A prompt's images, in order. Owns their mtmd chunks until :meth:`close`."""

    spans: list[ImageSpan] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    _closed: bool = False

    def add(self, span: ImageSpan) -> None:
        self.spans.append(span)
        self._starts.append(span.start)

    def at(self, position: int) -> ImageSpan | None:
        """The image that starts at ``position``, if one does."""
        i = bisect_right(self._starts, position) - 1
        if i >= 0 and self.spans[i].start == position:
            return self.spans[i]
        return None

    def text_end(self, start: int, end: int) -> int:
        """``end``, or the start of the first image after ``start`` if that comes first: text
        tokens fed from ``start`` stop there."""
        i = bisect_right(self._starts, start)
        return min(end, self._starts[i]) if i < len(self._starts) else end

    def clamp(self, reuse: int) -> int:
        """``reuse`` cached positions, moved back to an image's start when they end inside
        one: an image's KV is reused whole or not at all."""
        for span in self.spans:
            if span.start < reuse < span.end:
                return span.start
        return reuse

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        import llama_cpp.mtmd_cpp as mtmd

        for span in self.spans:
            if span.chunk:
                mtmd.mtmd_input_chunk_free(span.chunk)
                span.chunk = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the bindings may be gone
            self.close()


class Projector:
    """An ``mmproj`` GGUF loaded for ``engine``'s model. Tokenizing may run on any thread,
    encoding on the engine's worker only; a lock keeps mtmd's calls one at a time."""

    def __init__(self, engine: LlamaEngine, path: Path) -> None:
        import llama_cpp.mtmd_cpp as mtmd

        self._mtmd = mtmd
        self.engine = engine
        self.path = path
        self._lock = threading.Lock()
        engine.route_log(mtmd.mtmd_log_set)
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = engine.placement.layers_offloaded > 0
        params.n_threads = engine.n_threads
        params.print_timings = False
        params.warmup = False
        ctx = mtmd.mtmd_init_from_file(str(path).encode(), engine.model_handle, params)
        if not ctx:
            detail = engine.last_log_error() or "mtmd could not load it"
            raise ModelLoadError(f"failed to load the projector {path}: {detail}")
        self._ctx = ctx
        if not mtmd.mtmd_support_vision(ctx):
            self.close()
            raise ModelLoadError(f"the projector {path} has no vision encoder (audio only?)")
        if mtmd.mtmd_decode_use_mrope(ctx):
            self.close()
            raise ModelLoadError(
                f"the projector {path} places image embeddings by M-RoPE (Qwen2-VL and its "
                "kin), which hearth does not support yet; use a LLaVA, Gemma 3 or SmolVLM pair"
            )
        self.marker: str = (mtmd.mtmd_default_marker() or b"<__media__>").decode()
        self.n_embd = engine.n_embd_inp
        self._batch: Any = None  # the embeddings batch, allocated on the first image

    # -- the caller's side ---------------------------------------------------------------------

    def tokenize(
        self, text: str, images: Sequence[DecodedImage], *, add_special: bool
    ) -> tuple[list[int], ImagePrompt]:
        """``text`` (with one :attr:`marker` per image, in order) and ``images`` as prompt
        positions: token ids, and each image's pseudo tokens (:func:`image_token`)."""
        mtmd = self._mtmd
        if text.count(self.marker) != len(images):
            raise InvalidRequestError(
                f"the prompt's text holds the image marker {self.marker!r} "
                f"{text.count(self.marker)} times for {len(images)} images; a message's text "
                f"may not contain {self.marker!r}"
            )
        data = text.encode("utf-8")
        bitmaps = (mtmd.mtmd_bitmap_p_ctypes * max(len(images), 1))()
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            for i, image in enumerate(images):
                pixels = (ctypes.c_uint8 * len(image.rgb)).from_buffer_copy(image.rgb)
                bitmap = mtmd.mtmd_bitmap_init(image.width, image.height, pixels)
                if not bitmap:
                    raise InvalidRequestError(f"image {i + 1}: mtmd could not take its pixels")
                mtmd.mtmd_bitmap_set_id(bitmap, image.digest.encode())
                bitmaps[i] = bitmap
            spec = mtmd.mtmd_input_text(data, len(data), add_special, True)
            with self._lock:
                rc = mtmd.mtmd_tokenize(self._ctx, chunks, ctypes.byref(spec), bitmaps, len(images))
            if rc != 0:
                raise InvalidRequestError(
                    f"the images could not be prepared for the model (mtmd_tokenize: {rc})"
                )
            return self._positions(chunks, images)
        finally:
            for i in range(len(images)):
                if bitmaps[i]:
                    mtmd.mtmd_bitmap_free(bitmaps[i])
            mtmd.mtmd_input_chunks_free(chunks)

    def _positions(
        self, chunks: Any, images: Sequence[DecodedImage]
    ) -> tuple[list[int], ImagePrompt]:
        mtmd = self._mtmd
        tokens: list[int] = []
        prompt = ImagePrompt()
        try:
            for i in range(int(mtmd.mtmd_input_chunks_size(chunks))):
                chunk = mtmd.mtmd_input_chunks_get(chunks, i)
                kind = int(mtmd.mtmd_input_chunk_get_type(chunk))
                if kind == _CHUNK_TEXT:
                    n = ctypes.c_size_t(0)
                    ids = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                    tokens.extend(ids[: n.value])
                    continue
                if kind != _CHUNK_IMAGE:
                    raise InvalidRequestError("only images are supported as media, not audio")
                digest = images[len(prompt.spans)].digest
                n_tokens = int(mtmd.mtmd_input_chunk_get_n_tokens(chunk))
                if int(mtmd.mtmd_input_chunk_get_n_pos(chunk)) != n_tokens:
                    raise InvalidRequestError("this projector's image positions are not supported")
                non_causal = bool(mtmd.mtmd_decode_use_non_causal(self._ctx, chunk))
                owned = mtmd.mtmd_input_chunk_copy(chunk)
                prompt.add(ImageSpan(len(tokens), n_tokens, digest, owned, non_causal))
                tokens.extend([image_token(digest)] * n_tokens)
        except BaseException:
            prompt.close()
            raise
        if prompt.spans and prompt.spans[-1].end == len(tokens):
            prompt.close()
            raise InvalidRequestError("the prompt ends with an image; put text after it")
        return tokens, prompt

    # -- the worker's side ---------------------------------------------------------------------

    def feed(self, span: ImageSpan, seq: int) -> bool:
        """Encode ``span``'s image and decode its embeddings into sequence ``seq`` at positions
        ``span.start…``. False when the KV cache has no room (the caller may free cells and
        retry; the positions already decoded are removed)."""
        mtmd = self._mtmd
        engine = self.engine
        with self._lock:
            rc = int(mtmd.mtmd_encode_chunk(self._ctx, span.chunk))
            if rc != 0:
                raise InvalidRequestError(f"the image could not be encoded (mtmd: {rc})")
            embd = mtmd.mtmd_get_output_embd(self._ctx)
            n_batch = engine.n_batch
            if span.non_causal and span.n > n_batch:
                raise InvalidRequestError(
                    f"an image of {span.n} tokens needs n_batch >= {span.n} with this "
                    f"projector; load the model with n_batch={span.n} or more"
                )
            batch = self._embd_batch(n_batch)
            row = self.n_embd * ctypes.sizeof(ctypes.c_float)
            base = ctypes.cast(embd, ctypes.c_void_p).value or 0
            with engine.causal(not span.non_causal):
                for offset in range(0, span.n, n_batch):
                    n = min(n_batch, span.n - offset)
                    ctypes.memmove(batch.embd, base + offset * row, n * row)
                    for i in range(n):
                        batch.pos[i] = span.start + offset + i
                        batch.n_seq_id[i] = 1
                        batch.seq_id[i][0] = seq
                        batch.logits[i] = 0
                    batch.n_tokens = n
                    if not engine.decode_native(batch, n):
                        engine.seq_remove(seq, span.start)
                        return False
        return True

    def _embd_batch(self, n_batch: int) -> Any:
        if self._batch is None:
            import llama_cpp.llama_cpp as lib

            self._batch = lib.llama_batch_init(n_batch, self.n_embd, 1)
        return self._batch

    def close(self) -> None:
        if getattr(self, "_batch", None) is not None:
            import llama_cpp.llama_cpp as lib

            lib.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            self._mtmd.mtmd_free(self._ctx)
            self._ctx = None
