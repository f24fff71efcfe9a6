"""The keyword options of ``hearth.model(spec, **options)``, typed for IDEs and type checkers.

:class:`ModelOptions` lists every option a built-in backend takes; ``hearth.model`` declares it
with ``Unpack`` (and keeps a plain ``**options`` overload, so a dict of options built at run time
still type-checks). Which options apply depends on the provider: a local model refuses a remote
option and the other way round, with an error that lists what it accepts (the backends check,
not this module). A test keeps these names in step with the backends' own lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, TypedDict

if TYPE_CHECKING:
    import httpx

    from hearth._http import Timeouts
    from hearth.accelerator import CacheType, FlashAttn, GpuLayers, SplitMode


class ModelOptions(TypedDict, total=False):
    """Options of ``hearth.model(spec, **options)``.

    Local models (``local:…``, ``hf:…``; see ``hearth.backends.local.backend.LocalOptions``):

    * ``n_ctx``: context window in tokens (default min(trained length, 8192));
    * ``n_threads``: CPU threads (default: every core this process may use);
    * ``n_batch``: prompt tokens evaluated per step (default 512);
    * ``max_queue``: requests that may wait for a free slot before new ones are refused;
    * ``slots``: requests decoded together in one batch (default 8);
    * ``prefix_cache``: tokens of finished requests kept for reuse (0: off);
    * ``speculative``: ``"ngram"`` (default) drafts tokens by prompt lookup and verifies them
      in one decode, ``"off"`` does not;
    * ``draft_model``: a smaller model with the same vocabulary that drafts instead of prompt
      lookup (a catalogue name, ``.gguf`` path or ``hf:…``);
    * ``timeout``: seconds a request may take, queueing included (None: no deadline);
    * ``verbose``: show llama.cpp's own log on stderr;
    * ``progress``: a progress bar when a model is pulled (default: when stderr is a TTY);
    * ``queue_timeout``: seconds a request may wait for a place in a full queue (0: refused at
      once);
    * ``sha256``: the file's expected SHA-256, checked before it is loaded;
    * ``pooling``: how embeddings pool (``mean``, ``cls`` or ``last``); ``embed_prefixes``: task
      name → text put before each input to embed;
    * ``gpu_layers``: layers offloaded to the GPU (``"auto"``, the default: what fits; ``"all"``;
      or a number); ``main_gpu``, ``split_mode`` (``none``, ``layer``, ``row``) and
      ``tensor_split`` (each GPU's share) for several GPUs; ``flash_attn`` (``auto``, ``on``,
      ``off``); ``offload_kqv`` (KV cache on the GPU); ``use_mmap``, ``use_mlock``;
    * ``cache_type_k``, ``cache_type_v``: the KV cache's type (``f16``, ``q8_0``, ``q4_0`` …);
    * ``chat_template``: a Jinja chat template used instead of the model's own;
      ``thinking_tags``: ``(open, close)`` tags the model thinks in (``()``: it does not reason);
      ``thinking_budget_message``: text forced before the closing tag when the budget is spent;
    * ``mmproj``: a vision model's projector GGUF (a path or ``hf:ORG/REPO/FILE.gguf``), so the
      model takes images (docs/vision.md); ``mmproj_sha256``: its expected SHA-256.

    Remote models (``openai:…``, ``anthropic:…``, ``gemini:…``, ``ollama:…``, …):

    * ``api_key``, ``base_url``: instead of the environment's or the config's;
    * ``timeout``: seconds, or a ``Timeouts`` (connect / read / write / pool);
    * ``max_retries``: retries of a failed request (default 2);
    * ``vision``: the model takes images; ``raw_completion``: the endpoint has ``/completions``;
    * ``http_client``, ``async_http_client``: your own httpx clients.
    """

    n_ctx: int | None
    n_threads: int | None
    n_batch: int
    max_queue: int
    slots: int
    prefix_cache: int | None
    speculative: Literal["ngram", "off"]
    draft_model: str | None
    timeout: float | Timeouts | None
    verbose: bool
    progress: bool | None
    queue_timeout: float
    sha256: str | None
    pooling: Literal["mean", "cls", "last"] | None
    embed_prefixes: Mapping[str, str] | None
    gpu_layers: GpuLayers | None
    main_gpu: int | None
    split_mode: SplitMode | None
    tensor_split: tuple[float, ...] | None
    flash_attn: FlashAttn | None
    offload_kqv: bool | None
    use_mmap: bool | None
    use_mlock: bool | None
    cache_type_k: CacheType | None
    cache_type_v: CacheType | None
    chat_template: str | None
    thinking_tags: Sequence[str] | None
    thinking_budget_message: str
    mmproj: str | None
    mmproj_sha256: str | None
    api_key: str
    base_url: str
    max_retries: int
    vision: bool
    raw_completion: bool
    http_client: httpx.Client
    async_http_client: httpx.AsyncClient
