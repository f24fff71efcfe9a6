"""RouterBackend: one model over several replicas (``router:NAME``), as LiteLLM's Router is.

``[routers.NAME]`` in the config lists the members (model strings of any provider); see
:mod:`hearth.config.routers`. Each call goes to one member (:mod:`hearth.backends.routing`:
least outstanding requests, cooldowns, prefix affinity). A member that fails with a connection
error, a timeout, a 5xx or a 429 (or a full local queue) before anything was streamed to the
caller is put in cooldown and the call goes on to the next member; once output has reached the
caller, an error reaches the caller too (the answer cannot be taken back). An error that says
the request itself is wrong (a 400, an unsupported feature) is the caller's, and is raised at
once. When every member has failed, the last error is raised, its message listing them all;
when every member is cooling down, :class:`~hearth.errors.OverloadedError` says when to retry.

Remote members are built with ``max_retries=0`` unless the caller passes ``max_retries``: the
router's failover is the retry. Sync and async twins share every non-I/O step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from hearth.backends.base import Backend, BackendBase, Capabilities
from hearth.backends.routing import Member, RoutingPolicy, RoutingTable, affinity_key
from hearth.embeddings import Embeddings
from hearth.errors import (
    APIConnectionError,
    APITimeoutError,
    ConfigurationError,
    HearthError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from hearth.events import StreamEvent
from hearth.request import ChatRequest, EmbedRequest
from hearth.response import Response

if TYPE_CHECKING:
    from hearth.config.schema import Config, RouterConfig

T = TypeVar("T")

_FAILOVER = (APIConnectionError, APITimeoutError, ServerError, RateLimitError, OverloadedError)


def member_failed(exc: BaseException) -> bool:
    """Whether ``exc`` says the member (not the request) failed, so another may answer."""
    if isinstance(exc, _FAILOVER):
        return True
    return (
        isinstance(exc, ProviderError)
        and exc.status_code is not None
        and (exc.status_code >= 500 or exc.status_code == 408)
    )


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, ProviderError | OverloadedError):
        return exc.retry_after
    return None


class _Attempts:
    """One call's way through the members: which were tried, and how each failed."""

    def __init__(self, router: RouterBackend, key: bytes | None) -> None:
        self._router = router
        self._key = key
        self.tried: list[Member] = []
        self.errors: list[tuple[Member, HearthError]] = []

    def next(self) -> Member:
        member = self._router.table.pick(self._key, self.tried)
        if member is None:
            raise self._router.exhausted(self.errors)
        self.tried.append(member)
        return member

    def failed(self, member: Member, exc: HearthError) -> bool:
        """Record ``exc``; True when the call may go on to another member."""
        table = self._router.table
        if not member_failed(exc):
            table.released(member)
            return False
        table.finished(member, ok=False, retry_after=_retry_after(exc))
        self.errors.append((member, exc))
        return True


class RouterBackend(BackendBase):
    """A model whose calls are spread over ``members`` (see the module docstring)."""

    def __init__(
        self,
        members: Sequence[Backend],
        *,
        name: str = "router",
        policy: RoutingPolicy | None = None,
    ) -> None:
        if not members:
            raise ConfigurationError(f"router:{name} has no members; list some model strings")
        self._name = name
        self.table = RoutingTable(members, policy or RoutingPolicy())
        self._capabilities = _shared_capabilities([m.capabilities() for m in members])

    @property
    def name(self) -> str:
        return f"router:{self._name}"

    @property
    def members(self) -> tuple[Member, ...]:
        """The members and what the router knows of them (calls in flight, served, failures)."""
        return self.table.members

    def __repr__(self) -> str:
        return f"RouterBackend({self.name!r}, members={[m.name for m in self.members]!r})"

    def capabilities(self) -> Capabilities:
        return self._capabilities

    def exhausted(self, errors: list[tuple[Member, HearthError]]) -> HearthError:
        """The error for a call no member could take: the last failure, its message naming
        every member's, or OverloadedError when all are cooling down and none was tried."""
        if not errors:
            wait = self.table.next_ready_in()
            return OverloadedError(
                f"{self.name}: every member is cooling down after failures; retry in {wait:.1f} s",
                retry_after=wait,
            )
        said = "; ".join(f"{m.name}: {exc}" for m, exc in errors)
        last = errors[-1][1]
        last.args = (f"{self.name}: every member failed ({said})",)
        return last

    # -- sync ------------------------------------------------------------------------------------

    def _call(self, key: bytes | None, call: Callable[[Backend], T]) -> T:
        attempts = _Attempts(self, key)
        while True:
            member = attempts.next()
            try:
                result = call(member.backend)
            except HearthError as exc:
                if attempts.failed(member, exc):
                    continue
                raise
            except BaseException:
                self.table.released(member)
                raise
            self.table.finished(member, ok=True)
            return result

    def chat(self, request: ChatRequest) -> Response:
        return self._call(affinity_key(request), lambda b: b.chat(request))

    def embed(self, request: EmbedRequest) -> Embeddings:
        return self._call(None, lambda b: b.embed(request))

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        return self._stream(request, _Attempts(self, affinity_key(request)))

    def _stream(self, request: ChatRequest, attempts: _Attempts) -> Iterator[StreamEvent]:
        while True:
            member = attempts.next()
            events: Iterator[StreamEvent] | None = None
            started = settled = False
            try:
                events = member.backend.stream(request)
                for event in events:
                    started = True
                    yield event
                settled = True
                self.table.finished(member, ok=True)
                return
            except HearthError as exc:
                settled = True
                if not attempts.failed(member, exc) or started:
                    raise
            finally:
                if not settled:  # the caller stopped reading, or something else was raised
                    self.table.released(member)
                close = getattr(events, "close", None) if events is not None else None
                if close is not None:
                    close()

    # -- async -----------------------------------------------------------------------------------

    async def _acall(self, key: bytes | None, call: Callable[[Backend], Awaitable[T]]) -> T:
        attempts = _Attempts(self, key)
        while True:
            member = attempts.next()
            try:
                result = await call(member.backend)
            except HearthError as exc:
                if attempts.failed(member, exc):
                    continue
                raise
            except BaseException:
                self.table.released(member)
                raise
            self.table.finished(member, ok=True)
            return result

    async def achat(self, request: ChatRequest) -> Response:
        return await self._acall(affinity_key(request), lambda b: b.achat(request))

    async def aembed(self, request: EmbedRequest) -> Embeddings:
        return await self._acall(None, lambda b: b.aembed(request))

    def astream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        return self._astream(request, _Attempts(self, affinity_key(request)))

    async def _astream(
        self, request: ChatRequest, attempts: _Attempts
    ) -> AsyncIterator[StreamEvent]:
        while True:
            member = attempts.next()
            events: AsyncIterator[StreamEvent] | None = None
            started = settled = False
            try:
                events = member.backend.astream(request)
                async for event in events:
                    started = True
                    yield event
                settled = True
                self.table.finished(member, ok=True)
                return
            except HearthError as exc:
                settled = True
                if not attempts.failed(member, exc) or started:
                    raise
            finally:
                if not settled:
                    self.table.released(member)
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()

    def close(self) -> None:
        for member in self.members:
            member.backend.close()

    async def aclose(self) -> None:
        for member in self.members:
            aclose = getattr(member.backend, "aclose", None)
            if aclose is not None:
                await aclose()
            else:
                member.backend.close()


def _shared_capabilities(each: list[Capabilities]) -> Capabilities:
    """What every member can do (a call may land on any of them)."""
    windows = [c.context_length for c in each if c.context_length is not None]
    accelerators = {c.accelerator for c in each}
    return Capabilities(
        streaming=all(c.streaming for c in each),
        tools=all(c.tools for c in each),
        structured_output=all(c.structured_output for c in each),
        vision=all(c.vision for c in each),
        embeddings=all(c.embeddings for c in each),
        thinking=all(c.thinking for c in each),
        context_length=min(windows) if len(windows) == len(each) else None,
        accelerator="remote" if "remote" in accelerators else each[0].accelerator,
        raw_completion=all(c.raw_completion for c in each),
    )


def create_router(name: str, /, *, config: Config, **options: object) -> RouterBackend:
    """``router:NAME``: the members of ``[routers.NAME]`` in ``config``, each built with
    ``options`` (remote ones with ``max_retries=0`` unless given, and the router's
    ``timeout``)."""
    from hearth.backends.registry import create_backend, split_model_string

    router = config.routers.get(name)
    if router is None:
        known = ", ".join(sorted(config.routers)) or "none"
        raise ConfigurationError(
            f"no router named {name!r} in {config.path} (routers there: {known}); add a "
            f'[routers.{name or "NAME"}] table with members = ["provider:model", ...]'
        )
    backends: list[Backend] = []
    try:
        for member in router.members:
            spec = config.resolve_model(member)
            provider, _ = split_model_string(spec)
            backends.append(
                create_backend(spec, config=config, **_member_options(provider, router, options))
            )
    except HearthError as exc:
        for built in backends:
            built.close()
        exc.args = (f"router:{name}: member {member!r}: {exc}",)
        raise
    policy = RoutingPolicy(cooldown=router.cooldown, affinity=router.affinity)
    return RouterBackend(backends, name=name, policy=policy)


def _member_options(
    provider: str, router: RouterConfig, options: dict[str, object]
) -> dict[str, object]:
    from hearth.backends.registry import BUILTIN_PROVIDERS

    if provider in BUILTIN_PROVIDERS:
        return options
    defaults: dict[str, object] = {"max_retries": 0}
    if router.timeout is not None:
        defaults["timeout"] = router.timeout
    return defaults | options


__all__ = ["RouterBackend", "RoutingPolicy", "create_router", "member_failed"]
