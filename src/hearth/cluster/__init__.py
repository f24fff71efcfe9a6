"""Hearth past one machine, on Ray: ``hearth serve --ray`` (Ray Serve) and ``hearth batch
--ray`` (Ray Data). Ray is an extra (``pip install 'hearthlm[ray]'``); nothing here is imported
by ``import hearth``, and the modules that import Ray are imported only by those commands.

* :mod:`hearth.cluster.affinity`: which replica a request prefers (pure).
* :mod:`hearth.cluster.transport`: what crosses from a replica to the ingress (events, errors).
* :mod:`hearth.cluster.replica_stats`: each replica's figures and their sum for ``/metrics``.
* :mod:`hearth.cluster.engine`: the replica deployment that owns one engine.
* :mod:`hearth.cluster.replica_backend`: the ingress's backend that forwards to the replicas.
* :mod:`hearth.cluster.request_router`: Ray Serve's request router with prefix affinity.
* :mod:`hearth.cluster.serve_app`: :func:`~hearth.cluster.serve_app.build_app`, the application.
* :mod:`hearth.cluster.batch`: the OpenAI Batch file on Ray Data.
* :mod:`hearth.cluster.connection`: joining the cluster; what may travel to it.
"""
