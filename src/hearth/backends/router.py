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
    InvalidRequestError,
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
        last.args = (f"{self.name}: no member could answer ({said})",)
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
    """``router:NAME``: the members of ``[routers.NAME]`` in ``config``, each built with the
    ``options`` it takes (local ones ``slots``, ``n_ctx``…; remote ones ``http_client``,
    ``api_key``…, with ``max_retries=0`` unless given, and the router's ``timeout``); an
    option no member takes is an error."""
    from hearth.backends.registry import create_backend, split_model_string

    router = config.routers.get(name)
    if router is None:
        known = ", ".join(sorted(config.routers)) or "none"
        raise ConfigurationError(
            f"no router named {name!r} in {config.path} (routers there: {known}); add a "
            f'[routers.{name or "NAME"}] table with members = ["provider:model", ...]'
        )
    specs = [config.resolve_model(member) for member in router.members]
    accepted = [_accepted(split_model_string(spec)[0], config) for spec in specs]
    _check_options(name, options, accepted)
    backends: list[Backend] = []
    try:
        for spec, takes in zip(specs, accepted, strict=True):
            chosen = {k: v for k, v in options.items() if takes is None or k in takes}
            if takes is not None and "max_retries" in takes:  # a remote member
                chosen = _remote_defaults(router) | chosen
            backends.append(create_backend(spec, config=config, **chosen))
    except HearthError as exc:
        failed = router.members[len(backends)]
        for built in backends:
            built.close()
        exc.args = (f"router:{name}: member {failed!r}: {exc}",)
        raise
    policy = RoutingPolicy(cooldown=router.cooldown, affinity=router.affinity)
    return RouterBackend(backends, name=name, policy=policy)


def _accepted(provider: str, config: Config) -> frozenset[str] | None:
    """The options a member of ``provider`` takes; None for a plugin (it says itself)."""
    from hearth.backends.endpoints import ENDPOINTS

    if provider in ("local", "hf"):
        from hearth.backends.local.backend import LocalOptions

        return frozenset(LocalOptions.__dataclass_fields__)
    if provider in config.providers or provider in ENDPOINTS:
        from hearth.backends.remote import REMOTE_OPTIONS

        return frozenset(REMOTE_OPTIONS)
    return None


def _check_options(
    name: str, options: dict[str, object], accepted: list[frozenset[str] | None]
) -> None:
    """An option no member takes is an error; one that only some take goes to those."""
    if any(takes is None for takes in accepted):
        return
    known = frozenset().union(*(takes for takes in accepted if takes is not None))
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidRequestError(
            f"router:{name}: no member takes the option(s) {', '.join(unknown)}; its members "
            f"take: {', '.join(sorted(known))}"
        )


def _remote_defaults(router: RouterConfig) -> dict[str, object]:
    """A remote member does not retry on its own (the router's failover is the retry) and
    takes the router's timeout."""
    defaults: dict[str, object] = {"max_retries": 0}
    if router.timeout is not None:
        defaults["timeout"] = router.timeout
    return defaults


__all__ = ["RouterBackend", "RoutingPolicy", "create_router", "member_failed"]
