"""Backends: one per provider, all behind the :class:`hearth.backends.base.Backend` protocol."""
