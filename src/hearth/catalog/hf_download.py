"""Download a Hugging Face file into the hub cache with huggingface_hub, failing fast offline.

The download is ``huggingface_hub.hf_hub_download`` (its own progress bar; an interrupted
download resumes from its ``.incomplete`` blob). huggingface_hub retries a connection failure for
about 25 seconds, so hearth first decides quickly whether trying makes sense:

1. ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) set: refuse at once, saying so;
2. huggingface_hub not installed: say how to install it (``pip install 'hearthlm[hf]'``);
3. the endpoint (``HF_ENDPOINT``, else https://huggingface.co), or the HTTPS proxy when one is
   configured, cannot be connected to within :data:`CONNECT_TIMEOUT` seconds (name lookup
   included, run in a helper thread so that a stuck resolver cannot hang the caller): refuse.

huggingface_hub is imported only here, and only when a download is needed.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from hearth.catalog.entries import HFSource
from hearth.catalog.progress import NullProgress, Progress
from hearth.errors import ModelFetchError

DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT = 5.0
ETAG_TIMEOUT = 10.0
_TRUE = ("1", "true", "yes", "on")

Connector = Callable[[str, int, float], None]
"""Opens (and closes) a TCP connection to (host, port) within a timeout, or raises OSError."""


def offline_variable() -> str | None:
    """The name of the set offline switch (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE), else None."""
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(variable, "").strip().lower() in _TRUE:
            return variable
    return None


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _tcp_connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


def probe_target(url: str) -> tuple[str, int, str]:
    """(host, port, what) to connect to for ``url``: its HTTPS proxy if one is set."""
    import urllib.request

    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return proxy_parts.hostname or "", proxy_parts.port or 80, f"the proxy {proxy}"
    default_port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", parts.port or default_port, url


def check_reachable(
    url: str, timeout: float = CONNECT_TIMEOUT, connect: Connector = _tcp_connect
) -> None:
    """Raise :class:`ModelFetchError` unless a TCP connection to ``url`` (or its proxy) opens
    within ``timeout`` seconds. Never waits much longer than ``timeout``."""
    host, port, what = probe_target(url)
    if not host:
        raise ModelFetchError(f"HF_ENDPOINT {url!r} is not a URL; unset it or fix it")
    failure: list[BaseException] = []

    def attempt() -> None:
        try:
            connect(host, port, timeout)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=attempt, name="hearth-hf-probe", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    if worker.is_alive():
        reason = f"no answer within {timeout:g} s"
    elif failure:
        reason = str(failure[0]) or type(failure[0]).__name__
    else:
        return
    raise ModelFetchError(
        f"cannot reach {what} ({reason}), so nothing can be downloaded from Hugging Face. "
        "Connect to the network and try again, set HF_ENDPOINT to a reachable mirror, or use a "
        "local .gguf file."
    )


def download(
    source: HFSource,
    cache: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
    connect: Connector = _tcp_connect,
) -> Path:
    """Download ``source`` into the hub cache ``cache``; the snapshot path of the file."""
    progress = progress or NullProgress()
    offline = offline_variable()
    if offline is not None:
        raise ModelFetchError(
            f"{source.spec} is not in the Hugging Face cache ({cache}) and {offline} is set, "
            f"so hearth will not download it. Unset {offline} and run `hearth pull "
            f"{source.spec}`, or use a local .gguf file."
        )
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise ModelFetchError(
            f"downloading {source.spec} needs the huggingface_hub package; install it with "
            "`pip install 'hearthlm[hf]'` (or pip install huggingface_hub)."
        ) from None
    progress.start(f"connecting to {endpoint()}", None)
    try:
        check_reachable(endpoint(), connect=connect)
    finally:
        progress.finish()
    try:
        path = hf_hub_download(
            source.repo,
            source.file,
            revision=source.revision,
            cache_dir=cache,
            force_download=force,
            etag_timeout=ETAG_TIMEOUT,
        )
    except Exception as exc:
        raise _fetch_error(source, exc) from exc
    return Path(str(path))


def _fetch_error(source: HFSource, exc: Exception) -> ModelFetchError:
    """huggingface_hub's failure, said in one line with what to do."""
    kind = type(exc).__name__
    first = (str(exc).strip().splitlines() or [kind])[0]
    advice = {
        "GatedRepoError": f"the repository {source.repo} is gated: accept its terms on the "
        "Hub and log in with `hf auth login` (or set HF_TOKEN)",
        "RepositoryNotFoundError": f"no repository {source.repo} on the Hub (or it is private: "
        "log in with `hf auth login`)",
        "RevisionNotFoundError": f"the repository {source.repo} has no revision "
        f"{source.revision!r}",
        "RemoteEntryNotFoundError": f"the repository {source.repo} has no file {source.file}",
        "EntryNotFoundError": f"the repository {source.repo} has no file {source.file}",
        "LocalEntryNotFoundError": "the Hub could not be reached and the file is not cached",
    }.get(kind)
    reason = advice or f"{kind}: {first}"
    return ModelFetchError(f"could not download {source.spec}: {reason}.")
