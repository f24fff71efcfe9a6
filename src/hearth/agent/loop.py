"""The agent loop: call the model, run the tools it asks for, send the results back, repeat.

The loop is written once, as async code (:meth:`Agent.aiter`); the sync methods drive it on a
private event loop, step by step, in the caller's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import threading
from collections.abc import (
    AsyncGenerator,
    Generator,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal

from hearth.errors import ContextLengthExceededError, InvalidRequestError, OutputValidationError
from hearth.events import Done, StreamEvent, TextDelta, ThinkingDelta, ToolCallEvent, Usage
from hearth.messages import JsonObject, JsonValue, Message, ToolCallPart, ToolResultPart
from hearth.request import ChatRequest, OutputFormat, ToolChoice
from hearth.response import ResponseAccumulator
from hearth.settings import GenerationSettings
from hearth.tool_progress import Progress

from . import compaction
from .execution import CallOutcome, ToolRunner, cancelled_outcome, rejected_call_feedback
from .hooks import Deny, Hooks, call_hook
from .output import AgentOutput, exhausted, retry_message
from .runtime import CancelledByAgentError, cancel_leftovers, next_event, next_step
from .setup import FINISH_TOOL, initial_history, tool_table
from .steps import (
    AgentResult,
    AgentStopReason,
    CompactedStep,
    OutputRetryStep,
    OutputT,
    Step,
    TextStep,
    ThinkingStep,
    ToolCallStep,
    ToolProgressStep,
    ToolResultStep,
    ToolRetryStep,
    TurnComplete,
    TurnError,
)
from .stream import AgentStream, AsyncAgentStream
from .subscription import DEFAULT_BUFFER, Overflow, Subscription
from .triggers import Dispatcher

if TYPE_CHECKING:
    from hearth.agent.mcp_tools import AgentMCP
    from hearth.client import Model, ToolLike
    from hearth.mcp import MCPServer, MCPToolset
    from hearth.response import Response
    from hearth.store import ConversationStore
    from hearth.tools import Tool


@dataclass
class _Turn:
    number: int
    new: list[Message] = field(default_factory=list)
    rounds: int = 0
    called_tools: bool = False
    usage: Usage = field(default_factory=Usage)
    pending: list[ToolCallPart] = field(default_factory=list)
    results: list[ToolResultPart] = field(default_factory=list)
    stop: AgentStopReason | None = None
    finish_arguments: JsonValue = None
    error: BaseException | None = None
    finished: bool = False  # a valid finish call was made
    parsed: object = None
    answer_text: str | None = None  # the finish call's answer, as JSON text
    output_failures: int = 0
    finish_error: OutputValidationError | None = None  # this round's invalid finish call
    finish_error_text: str = ""  # and what the model was told


class Agent(Generic[OutputT]):
    """A model with tools, looping until it answers, finishes, or reaches ``max_rounds``.

    The agent keeps its history (``messages``) across turns, like a conversation. With a
    ``store``, every turn is saved as it completes; pass ``conversation_id`` to continue a
    stored conversation.

    ``tool_choice`` applies until the model has called a tool in a turn; the later rounds of
    that turn use ``followup_tool_choice`` ("auto" by default, so a forced call cannot loop
    forever; "none" makes the model answer in words; None keeps ``tool_choice``, e.g.
    "required" together with ``finish_tool=True``).

    ``output_type`` (a pydantic class, a JSON schema dict, ``"json"`` or an OutputFormat)
    declares the final answer's shape: every request carries it as ``response_format``, and
    the answer is validated into ``AgentResult.parsed``. An answer that does not validate is
    sent back with what was wrong, up to ``output_retries`` times a turn (each retry is a round);
    then the turn fails with OutputValidationError. With ``finish_tool=True`` the finish tool's
    arguments are the answer in that shape. For type checkers ``Agent(m, tools,
    output_type=City)`` is an ``Agent[City]``, whose ``run`` returns an ``AgentResult[City]``
    (``parsed: City | None``).

    ``mcp_servers`` (:class:`hearth.mcp.MCPServer` specs, or an MCPToolset you own) adds the
    tools of MCP servers; they start with the first turn, and :meth:`close` stops the ones the
    agent started.
    """

    def __init__(
        self,
        model: Model | str | None = None,
        tools: Iterable[ToolLike] = (),
        *,
        system: str | None = None,
        max_rounds: int = 10,
        hooks: Hooks | None = None,
        store: ConversationStore | None = None,
        conversation_id: str | None = None,
        settings: GenerationSettings | None = None,
        tool_choice: ToolChoice = "auto",
        followup_tool_choice: ToolChoice | None = "auto",
        finish_tool: bool = False,
        max_tool_output: int | None = 16_000,
        reserve_tokens: int | None = None,
        messages: Sequence[Message] = (),
        output_type: type[OutputT] | JsonObject | OutputFormat | Literal["json"] | None = None,
        output_retries: int = 1,
        mcp_servers: Iterable[MCPServer] | MCPToolset = (),
    ) -> None:
        from hearth.client import Model
        from hearth.client import model as open_model

        if max_rounds < 1:
            raise InvalidRequestError(f"max_rounds must be at least 1, got {max_rounds}")
        if output_retries < 0:
            raise InvalidRequestError(f"output_retries must be 0 or more, got {output_retries}")
        self.output_type = output_type
        self.output_retries = output_retries
        self._output = (
            AgentOutput.build(output_type, finish_tool=finish_tool)
            if output_type is not None
            else None
        )
        self._owns_model = not isinstance(model, Model)
        self.model = model if isinstance(model, Model) else open_model(model)
        self.tools: Mapping[str, Tool] = tool_table(tools, finish_tool)
        self.hooks = hooks or Hooks()
        self._mcp: AgentMCP | None = None
        if mcp_servers:  # MCP tools join the table as the servers list them (mcp_tools)
            from hearth.agent.mcp_tools import attach

            reserved = [FINISH_TOOL.name] if finish_tool else []
            self._mcp = attach(mcp_servers, self.tools, self.hooks, self.model, reserved)
            self.tools, self.hooks = self._mcp.tools, self._mcp.hooks
        self.max_rounds = max_rounds
        self.settings = settings
        self.tool_choice = tool_choice
        self.followup_tool_choice = followup_tool_choice
        self.finish_tool = finish_tool
        self.reserve_tokens = reserve_tokens
        self.store = store
        if store is not None and conversation_id is not None:
            conversation_id = store.resolve(conversation_id)
        self.conversation_id = conversation_id
        self._finish_spec = FINISH_TOOL if self._output is None else self._output.finish_spec()
        self.messages: list[Message]
        self.messages, compacted = initial_history(store, conversation_id, system, messages)
        self._runner = ToolRunner(
            self.tools,
            self.hooks,
            max_output_chars=max_tool_output,
            finish_name=FINISH_TOOL.name if finish_tool else None,
            finish_output=self._output,
        )
        self._compacted = compacted  # the store keeps a context: update it every turn
        self._index = itertools.count()
        self._turns = 0
        self._cancel_flag = threading.Event()
        self._dispatch = Dispatcher(
            self._turn_with_tools, begin=self._cancel_flag.clear, inside_turn=self._inside_turn
        )
        self._cancel_event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- public API ------------------------------------------------------------------------

    @property
    def system(self) -> str | None:
        first = self.messages[0] if self.messages else None
        return first.text if first is not None and first.role == "system" else None

    @property
    def busy(self) -> bool:
        """True while a turn runs."""
        return self._dispatch.gate.busy

    @property
    def pending(self) -> int:
        """How many sent messages wait to be delivered."""
        return len(self._dispatch.inbox)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory, ready to answer without loading first (a local
        model loads on its first request; a remote one has nothing to load)."""
        return self.model.loaded

    def send(self, message: str | Message) -> None:
        """Deliver a message as its own turn (from any thread or task), like a trigger.

        Sent while a turn runs, it is queued and delivered after that turn, within the same
        run/iter call. Sent while the agent is idle, it starts a turn at once, in the
        background: a task on the caller's event loop (from async code), else a daemon
        thread. Its steps go to the subscribers (:meth:`subscribe`); :meth:`wait_for_idle`
        waits for it."""
        self._dispatch.send(_user(message))

    def subscribe(
        self, *, buffer: int = DEFAULT_BUFFER, overflow: Overflow = "end"
    ) -> Subscription:
        """A new consumer of every step this agent emits from now on, in every turn (see
        :mod:`hearth.agent.subscription`): ``buffer`` steps may wait unread; then
        ``overflow="end"`` ends the subscription (reading on raises SubscriberLaggedError)
        and ``"drop_oldest"`` drops the oldest. Publishing never waits for a subscriber."""
        return self._dispatch.hub.subscribe(buffer, overflow)

    def wait_for_idle(self, timeout: float | None = None) -> bool:
        """Block until no turn runs (background ones included); False if ``timeout`` seconds
        passed first. Not from async code (use :meth:`await_for_idle`) nor from a tool."""
        return self._dispatch.gate.wait(timeout)

    async def await_for_idle(self, timeout: float | None = None) -> bool:
        """The async twin of :meth:`wait_for_idle`."""
        return await self._dispatch.gate.await_idle(timeout)

    def clear_history(self) -> None:
        """Forget the conversation: the history goes back to the system prompt alone, step
        indexes and turn numbers start again from 0, and with a store the next turn starts a
        new stored conversation. Queued messages stay queued. Refused while a turn runs."""
        with self._dispatch.gate.lock:
            if self._dispatch.gate.busy:
                raise InvalidRequestError(
                    "cannot clear the history while a turn runs; cancel() it and "
                    "wait_for_idle() first"
                )
            first = self.messages[0] if self.messages else None
            self.messages = [first] if first is not None and first.role == "system" else []
            self._index = itertools.count()
            self._turns = 0
            self.conversation_id = None
            self._compacted = False

    def cancel(self) -> None:
        """Stop the running turn (from any thread or task): the generation within one token, or
        the running tools. Every tool call gets a result ("cancelled" where none came). Idle:
        does nothing."""
        self._cancel_flag.set()
        loop, event = self._loop, self._cancel_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(event.set)

    def run(self, prompt: str | Message | None = None) -> AgentResult[OutputT]:
        """Run a turn to the end and return its result (see :meth:`iter`)."""
        ends = [s for s in self.iter(prompt) if isinstance(s, TurnComplete | TurnError)]
        return _last_result(ends)

    async def arun(self, prompt: str | Message | None = None) -> AgentResult[OutputT]:
        ends: list[TurnComplete | TurnError] = []
        async for step in self.aiter(prompt):
            if isinstance(step, TurnComplete | TurnError):
                ends.append(step)
        return _last_result(ends)

    def iter(self, prompt: str | Message | None = None) -> Generator[Step, None, None]:
        """Steps of the turns this call runs: messages queued by :meth:`send`, then ``prompt``,
        then anything sent meanwhile. Breaking out of the loop (or Ctrl-C) cancels the running
        turn. Inside async code use :meth:`aiter` / :meth:`arun`."""
        if _loop_running():
            raise InvalidRequestError(
                "Agent.run/iter/stream cannot run inside a running event loop; "
                "use await agent.arun(...) or agent.aiter(...)"
            )
        agen = self.aiter(prompt)
        loop = asyncio.new_event_loop()
        pending: asyncio.Task[Step | None] | None = None
        self._dispatch.private_loop = loop
        try:
            while True:
                pending = loop.create_task(next_step(agen))
                step = loop.run_until_complete(pending)
                if step is None:
                    return
                yield step
        finally:
            if pending is not None and not pending.done():  # interrupted mid-step (Ctrl-C)
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    loop.run_until_complete(pending)
            loop.run_until_complete(agen.aclose())
            loop.run_until_complete(cancel_leftovers())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            if self._dispatch.private_loop is loop:
                self._dispatch.private_loop = None

    def stream(self, prompt: str | Message | None = None) -> AgentStream:
        """Like :meth:`iter`, as a context manager with the result at the end."""
        return AgentStream(self.iter(prompt))

    def astream(self, prompt: str | Message | None = None) -> AsyncAgentStream:
        """The async twin of :meth:`stream`."""
        return AsyncAgentStream(self.aiter(prompt))

    async def aiter(self, prompt: str | Message | None = None) -> AsyncGenerator[Step, None]:
        """The async twin of :meth:`iter`."""
        dispatch = self._dispatch
        await dispatch.claim()
        if prompt is not None:
            dispatch.inbox.append(_user(prompt))
        completed = False
        try:
            async with contextlib.aclosing(dispatch.deliver()) as steps:
                async for step in steps:
                    yield step
            completed = True
        finally:
            dispatch.release(stopped=not completed)

    def close(self) -> None:
        """Cancel a running turn, end every subscription, stop the MCP servers the agent
        started, and close the model if the agent opened it (it was given a model name). The
        agent cannot run turns afterwards."""
        self._dispatch.close()
        self.cancel()
        try:
            if self._mcp is not None:
                self._mcp.close()
        finally:
            if self._owns_model:
                self.model.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def to_json(self, *, indent: int | None = None) -> str:
        """The working history as versioned JSON (see :mod:`hearth.history`)."""
        from hearth.history import dumps

        return dumps(self.messages, indent=indent)

    def transcript(self) -> str:
        from hearth.history import transcript

        return transcript(self.messages)

    # -- one turn --------------------------------------------------------------------------

    def _inside_turn(self) -> bool:
        """Whether the calling code runs inside this agent's turn (a tool or a hook)."""
        return self._loop is not None and self._loop is asyncio.get_running_loop()

    async def _turn_with_tools(self, user: Message) -> AsyncGenerator[Step, None]:
        """A turn, after the MCP servers have started (MCPServerError if one cannot)."""
        if self._mcp is not None:
            await self._mcp.aconnect(self._cancel_flag)
        async with contextlib.aclosing(self._turn(user)) as steps:
            async for step in steps:
                yield step

    async def _turn(self, user: Message) -> AsyncGenerator[Step, None]:
        turn = _Turn(self._turns)
        self._turns += 1
        self._loop = asyncio.get_running_loop()
        self._cancel_event = asyncio.Event()
        if self._cancel_flag.is_set():
            self._cancel_event.set()
        if self.hooks.pre_turn is not None:
            decision = await call_hook(self.hooks.pre_turn(user))
            if isinstance(decision, Deny):
                turn.stop = "denied"
                result = self._result(turn)
                yield TurnError(self._n(), turn.number, 0, f"input denied: {decision.reason}",
                                result)  # fmt: skip
                return
        self._append(turn, user)
        try:
            while turn.stop is None:
                async with contextlib.aclosing(self._round(turn)) as steps:
                    async for step in steps:
                        yield step
        except Exception as exc:
            turn.stop, turn.error = "error", exc
        finally:
            self._settle(turn)
        result = self._result(turn)
        if turn.error is not None:
            message = f"{type(turn.error).__name__}: {turn.error}"
            yield TurnError(self._n(), turn.number, turn.rounds, message, result, turn.error)
            return
        try:
            yield TurnComplete(self._n(), turn.number, turn.rounds, result)
        finally:  # after the terminal step was seen, also when the consumer stops there
            if self.hooks.post_turn is not None:
                await call_hook(self.hooks.post_turn(result))

    async def _round(self, turn: _Turn) -> AsyncGenerator[Step, None]:
        turn.rounds += 1
        async with contextlib.aclosing(self._fit(turn, force=False)) as fitting:
            async for step in fitting:
                yield step
        acc = ResponseAccumulator()
        async with contextlib.aclosing(self._answer(turn, acc)) as steps:
            async for step in steps:
                yield step
        response = acc.response()
        turn.usage += response.usage
        if response.message.parts:
            self._append(turn, response.message)
        calls = response.message.tool_calls
        if turn.stop is not None:  # cancelled mid-answer: its calls are answered "cancelled"
            turn.pending, turn.results = list(calls), []
            for step in self._answer_the_rest(turn):
                yield step
            return
        if not calls:
            retry = self._accept(turn, response)
            if retry is not None:
                yield retry
            return
        async with contextlib.aclosing(self._run_tools(turn, calls)) as steps:
            async for step in steps:
                yield step
        if self._cancel_flag.is_set():
            turn.stop = "cancelled"
        elif turn.finished:
            turn.stop = "finish"
        elif turn.finish_error is not None:
            yield self._output_failed(turn, turn.finish_error, turn.finish_error_text)
            turn.finish_error = None
        if turn.stop is None and turn.rounds >= self.max_rounds:
            turn.stop = "max_rounds"

    def _accept(self, turn: _Turn, response: Response) -> OutputRetryStep | ToolRetryStep | None:
        """End the turn with the model's answer in words: validated against ``output_type``
        when there is one (an invalid answer is sent back, or fails the turn). A tool call the
        provider rejected (``tool_error``) is not an answer: the model is asked again."""
        if response.stop_reason == "tool_error":
            return self._rejected_call(turn, response.stop_detail)
        cut = response.stop_reason == "max_tokens"
        if self._output is not None:
            try:
                turn.parsed = self._output.parse_answer(response.text, response.stop_reason)
            except OutputValidationError as exc:
                feedback = self._output.feedback(exc, cut=cut, finish=False)
                step = self._output_failed(turn, exc, feedback)
                self._append(turn, retry_message(feedback))
                return step
        turn.stop = "max_tokens" if cut else "end_turn"
        return None

    def _rejected_call(self, turn: _Turn, detail: str | None) -> ToolRetryStep | None:
        """Ask the model to call again, while rounds remain (else the turn ends at
        ``max_rounds``)."""
        if turn.rounds >= self.max_rounds:
            turn.stop = "max_rounds"
            return None
        feedback = rejected_call_feedback(detail)
        self._append(turn, retry_message(feedback))
        return ToolRetryStep(self._n(), turn.number, turn.rounds, detail, feedback)

    def _output_failed(
        self, turn: _Turn, error: OutputValidationError, feedback: str
    ) -> OutputRetryStep:
        """Count an answer that did not validate: the step that asks again, or (no retries or
        rounds left) the OutputValidationError that ends the turn."""
        turn.output_failures += 1
        no_rounds = turn.rounds >= self.max_rounds
        if turn.output_failures > self.output_retries or no_rounds:
            raise exhausted(error, failures=turn.output_failures, no_rounds_left=no_rounds)
        return OutputRetryStep(self._n(), turn.number, turn.rounds, error, feedback)

    async def _answer(self, turn: _Turn, acc: ResponseAccumulator) -> AsyncGenerator[Step, None]:
        """The model call; an answer that broke off (the call failed mid-stream) keeps what
        had streamed in the history before the error goes on."""
        try:
            async with contextlib.aclosing(self._call_model(turn, acc)) as steps:
                async for step in steps:
                    yield step
        except Exception:
            partial = acc.message() if acc.done is None else None
            if partial is not None and partial.parts:
                self._append(turn, partial)
            raise

    async def _call_model(
        self, turn: _Turn, acc: ResponseAccumulator
    ) -> AsyncGenerator[Step, None]:
        """One model call into ``acc``; compacts and retries when the provider says the prompt
        does not fit; on cancel, ``acc`` ends with what came so far."""
        for attempt in itertools.count():
            try:
                async with contextlib.aclosing(self._generate(turn, acc)) as steps:
                    async for step in steps:
                        yield step
                return
            except ContextLengthExceededError:
                if acc.done is not None or acc.text or attempt >= 3:
                    raise
                async with contextlib.aclosing(self._fit(turn, force=True)) as fitting:
                    async for step in fitting:
                        yield step
            except CancelledByAgentError:
                turn.stop = "cancelled"
                acc.add(Done("cancelled"))
                return

    async def _run_tools(
        self, turn: _Turn, calls: Sequence[ToolCallPart]
    ) -> AsyncGenerator[Step, None]:
        turn.pending, turn.results = list(calls), []
        turn.called_tools = True
        assert self._cancel_event is not None
        async with contextlib.aclosing(self._runner.run(calls, self._cancel_event)) as outcomes:
            async for outcome in outcomes:
                if isinstance(outcome, Progress):
                    yield ToolProgressStep(
                        self._n(), turn.number, turn.rounds, outcome.call,
                        outcome.progress, outcome.total, outcome.message,
                    )  # fmt: skip
                    continue
                turn.results.append(outcome.result)
                if outcome.outcome == "finish":
                    turn.finish_arguments = outcome.finish_arguments
                    turn.finished = True
                    turn.parsed, turn.answer_text = outcome.parsed, outcome.answer_text
                elif outcome.output_error is not None:
                    turn.finish_error = outcome.output_error
                    turn.finish_error_text = outcome.result.content
                yield self._result_step(turn, outcome)
        for step in self._answer_the_rest(turn):
            yield step

    def _answer_the_rest(self, turn: _Turn) -> Generator[Step, None, None]:
        """A "cancelled" result (and its step) for every pending call that has none, so the
        steps, like the history, never show a call without a result; then close the round."""
        for c in turn.pending[len(turn.results) :]:
            outcome = cancelled_outcome(c)
            turn.results.append(outcome.result)
            yield self._result_step(turn, outcome)
        self._close_round(turn)

    async def _generate(self, turn: _Turn, acc: ResponseAccumulator) -> AsyncGenerator[Step, None]:
        if self._cancel_flag.is_set():
            raise CancelledByAgentError
        stream = self.model.backend.astream(self._request(self.messages, turn))
        assert self._cancel_event is not None
        waiter = asyncio.ensure_future(self._cancel_event.wait())
        try:
            while True:
                event = await next_event(stream, waiter)
                if event is None:
                    return
                acc.add(event)
                step = self._event_step(turn, event)
                if step is not None:
                    yield step
                if self._cancel_flag.is_set():
                    raise CancelledByAgentError
        finally:
            waiter.cancel()
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _fit(self, turn: _Turn, *, force: bool) -> AsyncGenerator[Step, None]:
        backend = self.model.backend
        count_tokens = getattr(backend, "count_tokens", None)
        window_of = getattr(backend, "context_window", None)
        window: int | None = window_of() if window_of is not None else None

        def count(messages: Sequence[Message]) -> int | None:
            if count_tokens is None:
                return None
            n: int | None = count_tokens(self._request(messages, turn))
            return n

        fitted, notes, usage = await compaction.fit(
            self.messages, count, window, self._reserve(window), self._summarize, force=force
        )
        if not notes:
            return
        self.messages = fitted
        self._compacted = True
        turn.usage += usage
        for note in notes:
            yield CompactedStep(self._n(), turn.number, turn.rounds, note.strategy, note.detail,
                                note.tokens_before, note.tokens_after)  # fmt: skip

    async def _summarize(self, request: ChatRequest) -> compaction.SummaryCall:
        merged = self.model.request(list(request.messages), self.settings)
        response = await self.model.backend.achat(merged)
        return compaction.SummaryCall(response.text, response.usage)

    # -- helpers ---------------------------------------------------------------------------

    def _request(self, messages: Sequence[Message], turn: _Turn | None = None) -> ChatRequest:
        specs = [t.spec for t in self.tools.values()]
        if self.finish_tool:
            specs.append(self._finish_spec)
        choice = self.tool_choice
        if turn is not None and turn.called_tools and self.followup_tool_choice is not None:
            choice = self.followup_tool_choice
        if not specs:
            choice = "auto"
        request = self.model.request(list(messages), self.settings, tools=specs, tool_choice=choice)
        if self._output is None:
            return request
        return dataclasses.replace(request, response_format=self._output.format)

    def _reserve(self, window: int | None) -> int:
        if self.reserve_tokens is not None:
            return self.reserve_tokens
        merged = self.model.settings.merged(self.settings)
        if merged.max_tokens is not None:
            return merged.max_tokens
        return 0 if window is None else min(1024, window // 4)

    def _n(self) -> int:
        return next(self._index)

    def _append(self, turn: _Turn, message: Message) -> None:
        self.messages.append(message)
        turn.new.append(message)

    def _event_step(self, turn: _Turn, event: StreamEvent) -> Step | None:
        if isinstance(event, TextDelta) and event.text:
            return TextStep(self._n(), turn.number, turn.rounds, event.text)
        if isinstance(event, ThinkingDelta) and event.text:
            return ThinkingStep(self._n(), turn.number, turn.rounds, event.text)
        if isinstance(event, ToolCallEvent):
            return ToolCallStep(self._n(), turn.number, turn.rounds, event.call)
        return None

    def _result_step(self, turn: _Turn, o: CallOutcome) -> ToolResultStep:
        return ToolResultStep(self._n(), turn.number, turn.rounds, o.call, o.result, o.outcome,
                              o.arguments, o.truncated, o.seconds)  # fmt: skip

    def _close_round(self, turn: _Turn) -> None:
        """Answer every pending call (a "cancelled" result where none came) in call order."""
        if not turn.pending:
            return
        # The runner answers in call order, so the results are a prefix of the calls; matching
        # by position (not by id) keeps every result even when a model repeats a call id.
        results = list(turn.results[: len(turn.pending)])
        results += [cancelled_outcome(c).result for c in turn.pending[len(results) :]]
        self._append(turn, Message.tool(*results))
        turn.pending, turn.results = [], []

    def _settle(self, turn: _Turn) -> None:
        """End the turn consistently (also when the consumer walked away) and persist it."""
        if turn.stop is None:
            turn.stop = "cancelled"
        last = self.messages[-1] if self.messages else None
        if not turn.pending and last is not None and last.role == "assistant":
            turn.pending = list(last.tool_calls)
        self._close_round(turn)
        self._cancel_event = None
        self._loop = None
        if self.store is not None and turn.new:
            self._persist(turn)

    def _persist(self, turn: _Turn) -> None:
        assert self.store is not None
        context = self.messages if self._compacted else None
        if self.conversation_id is None:  # the conversation and its first turn: one transaction
            first = next((m.text for m in turn.new if m.role == "user"), "")
            self.conversation_id = self.store.start(
                turn.new,
                title=first.strip().splitlines()[0][:80] if first.strip() else "",
                model=self.model.name,
                system=self.system,
                stop_reason=turn.stop,
                usage=turn.usage,
                context=context,
            )
            return
        self.store.append_turn(
            self.conversation_id,
            turn.new,
            stop_reason=turn.stop,
            usage=turn.usage,
            context=context,
        )

    def _result(self, turn: _Turn) -> AgentResult:
        return AgentResult(
            text=_final_text(turn),
            stop_reason=turn.stop or "cancelled",
            messages=tuple(self.messages),
            new_messages=tuple(turn.new),
            usage=turn.usage,
            rounds=turn.rounds,
            turn=turn.number,
            finish_arguments=turn.finish_arguments,
            error=turn.error,
            parsed=turn.parsed if turn.stop in ("end_turn", "max_tokens", "finish") else None,
        )


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _user(message: str | Message) -> Message:
    return Message.user(message) if isinstance(message, str) else message


def _final_text(turn: _Turn) -> str:
    args = turn.finish_arguments
    if turn.stop == "finish" and turn.answer_text is not None:
        return turn.answer_text
    if turn.stop == "finish" and args is not None:
        if isinstance(args, dict) and isinstance(args.get("answer"), str):
            return str(args["answer"])
        return args if isinstance(args, str) else json.dumps(args)
    for message in reversed(turn.new):
        if message.role == "assistant" and message.text:
            return message.text
        if message.role == "user":
            break
    return ""


def _last_result(ends: list[TurnComplete | TurnError]) -> AgentResult:
    """The last turn's result; a failed model call in any of the turns run (a queued message's
    too) is raised, the first one, with the history kept."""
    if not ends:
        raise InvalidRequestError("nothing to run: give a prompt or send() a message first")
    for end in ends:
        if isinstance(end, TurnError) and end.error is not None:
            raise end.error
    return ends[-1].result
