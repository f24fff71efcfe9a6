"""The embeddings half of a remote backend: an :class:`~hearth.request.EmbedRequest` through the
endpoint's format's embeddings codec (:class:`hearth.wire.base.EmbedCodec`), in batches of at
most the API's size, and the answers back into one :class:`~hearth.embeddings.Embeddings`.
No I/O here: :class:`hearth.backends.remote.RemoteBackend` sends the calls."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from hearth.backends.endpoints import ResolvedEndpoint
from hearth.backends.remote_http import Call, headers_for, json_body, url_for
from hearth.embeddings import Embeddings, batches, finish_vector
from hearth.errors import HearthError, ProviderError, UnsupportedFeatureError
from hearth.events import Usage
from hearth.request import EmbedRequest
from hearth.wire.base import EmbedBatch, EmbedCodec


class RemoteEmbedder:
    """Plans and reads the embeddings calls of one backend (``name`` is ``endpoint:model``)."""

    def __init__(self, name: str, resolved: ResolvedEndpoint, model: str) -> None:
        self.name = name
        self._resolved = resolved
        self._model = model

    def _codec(self) -> EmbedCodec:
        endpoint = self._resolved.endpoint
        codec = endpoint.format.embed
        if codec is None or not endpoint.embeds:
            what = (f"the {endpoint.wire} API" if codec is None
                    else f"the {endpoint.name} endpoint")  # fmt: skip
            raise UnsupportedFeatureError(
                f"{self.name}: {what} has no embeddings endpoint; embed "
                "with local:minilm, or an OpenAI, Gemini or Ollama model"
            )
        return codec

    def calls(self, request: EmbedRequest) -> list[tuple[Call, int]]:
        """One call per batch of inputs, with the batch's size; refusals before any I/O."""
        codec = self._codec()
        http = self._resolved.endpoint.format.http
        headers = headers_for(http, self._resolved, "application/json")
        out = []
        for batch in batches(request.texts, codec.max_batch):
            try:
                body = codec.request_to_wire(batch, request, model=self._model)
            except UnsupportedFeatureError as exc:
                raise UnsupportedFeatureError(f"{self.name}: {exc}") from None
            url = url_for(self._resolved, codec.path(self._model, len(batch)), self._model)
            out.append((Call(url, (), headers, json_body(body)), len(batch)))
        return out

    def batch(
        self,
        response: httpx.Response,
        count: int,
        fail: Callable[[httpx.Response], HearthError],
        polish: Callable[[HearthError], HearthError],
    ) -> EmbedBatch:
        """One answer's vectors and token count; ``fail`` maps an error answer, ``polish``
        makes an error safe (no key) and specific (the endpoint's name)."""
        if not response.is_success:
            raise fail(response)
        try:
            body = response.json()
            if not isinstance(body, dict):
                raise ValueError("not an object")
            provider = self._resolved.endpoint.name
            return self._codec().response_from_wire(body, count=count, provider=provider)
        except ValueError:
            raise polish(
                ProviderError(f"{self.name} answered embeddings with a body that is not JSON")
            ) from None
        except HearthError as exc:
            raise polish(exc) from None

    def result(self, parts: list[EmbedBatch], request: EmbedRequest) -> Embeddings:
        vectors = [
            finish_vector(v, request.dimensions, request.normalize)
            for part in parts
            for v in part[0]
        ]
        tokens = sum(part[1] for part in parts)
        return Embeddings(vectors, Usage(input_tokens=tokens), self.name)
