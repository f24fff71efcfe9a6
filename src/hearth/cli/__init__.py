"""The ``hearth`` command line: one module per command group, assembled in :mod:`app`."""
