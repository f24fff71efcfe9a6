"""Running one round's tool calls: hooks, timeouts, truncation, concurrency and cancellation.

Calls are decided one by one in call order (``pre_tool`` and the approval callback may ask a
person). Then they run: consecutive calls whose tools are ``concurrent`` start together, a
non-concurrent tool runs alone; results come out in call order whatever order they finish in.

A plain (sync) function runs in a daemon thread. Python cannot stop a thread, so on timeout or
cancel its eventual result is discarded and the model is told the call timed out / was
cancelled; a coroutine function is cancelled for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import threading
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hearth.errors import OutputValidationError
from hearth.messages import JsonValue, ToolCallPart, ToolResultPart
from hearth.tool_progress import Progress, ProgressChannel
from hearth.tools import Tool, ToolResult

from .hooks import Allow, Ask, Deny, Hooks, Rewrite, call_hook
from .output import AgentOutput
from .steps import ToolOutcome

TRUNCATION_MARKER = "[… output truncated by hearth: {dropped} of {total} characters not shown]"


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One call's result as the model sees it, and how it came about."""

    call: ToolCallPart
    result: ToolResultPart
    outcome: ToolOutcome
    arguments: str
    truncated: bool = False
    seconds: float = 0.0
    finish_arguments: JsonValue = None
    # with an output_type: the finish call's validated answer (and its JSON text), or why not
    parsed: object = None
    answer_text: str | None = None
    output_error: OutputValidationError | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    call: ToolCallPart
    tool: Tool | None
    arguments: str
    ready: CallOutcome | None  # decided without running (denied, unknown, finish)


def truncate(text: str, limit: int | None) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters plus a visible marker saying how much went."""
    if limit is None or len(text) <= limit:
        return text, False
    marker = TRUNCATION_MARKER.format(dropped=len(text) - limit, total=len(text))
    return text[:limit] + "\n" + marker, True


def result_part(call: ToolCallPart, content: str, is_error: bool) -> ToolResultPart:
    return ToolResultPart(call.id, content, is_error, call.name)


def rejected_call_feedback(detail: str | None) -> str:
    """What the model is told when the provider rejected its tool call (stop reason
    ``tool_error``, e.g. Gemini's MALFORMED_FUNCTION_CALL)."""
    why = f" ({detail})" if detail else ""
    return (
        f"Your last tool call could not be run: the provider rejected it{why}. Call the tool "
        "again with its exact name and arguments that are valid JSON for its schema, or answer "
        "in words."
    )


def cancelled_outcome(call: ToolCallPart, why: str = "cancelled") -> CallOutcome:
    text = f"tool call {call.name!r} was not completed: {why}"
    return CallOutcome(call, result_part(call, text, True), "cancelled", call.arguments)


def _malformed(call: ToolCallPart) -> str | None:
    """Why a local parser could not read this call (its ``meta["error"]``), or None.

    Such a call never runs, even when its raw text happens to be a valid JSON object."""
    if call.meta is not None:
        error = call.meta.get("error")
        if isinstance(error, str) and error:
            return error
    return None


class ToolRunner:
    def __init__(
        self,
        tools: Mapping[str, Tool],
        hooks: Hooks,
        *,
        max_output_chars: int | None,
        finish_name: str | None,
        finish_output: AgentOutput | None = None,
    ) -> None:
        self.tools = tools
        self.hooks = hooks
        self.max_output_chars = max_output_chars
        self.finish_name = finish_name
        self.finish_output = finish_output

    async def run(
        self, calls: Sequence[ToolCallPart], cancelled: asyncio.Event
    ) -> AsyncGenerator[CallOutcome | Progress, None]:
        """Outcomes in call order, with the progress the running calls report before them. On
        ``cancelled`` the running calls are abandoned and every call without a result gets a
        "cancelled" one, so none is left unanswered."""
        plans = [await self._plan(call) for call in calls]
        waiter = asyncio.ensure_future(cancelled.wait())
        channel = ProgressChannel()
        started: list[asyncio.Future[CallOutcome]] = []
        try:
            for batch in _batches(plans):
                tasks = [
                    asyncio.ensure_future(self._execute(p, channel)) if p.ready is None else None
                    for p in batch
                ]
                started += [t for t in tasks if t is not None]
                for plan, task in zip(batch, tasks, strict=True):
                    if task is None:
                        assert plan.ready is not None
                        yield plan.ready
                        continue
                    async with contextlib.aclosing(_wait_reporting(task, waiter, channel)) as ups:
                        async for update in ups:
                            yield update
                    if not task.done():  # cancelled: abandon the running calls and the rest
                        return
                    for update in channel.drain():
                        yield update
                    yield task.result()
        finally:
            waiter.cancel()
            for running in started:
                running.cancel()

    async def _plan(self, call: ToolCallPart) -> _Plan:
        if call.name == self.finish_name:
            return _Plan(call, None, call.arguments, _finish(call, self.finish_output))
        malformed = _malformed(call)
        if malformed is not None:
            text = (
                f"your call to {call.name or 'a tool'!r} could not be read: {malformed}. "
                "Write the call again in the tool-call format, with JSON arguments."
            )
            ready = CallOutcome(call, result_part(call, text, True), "error", call.arguments)
            return _Plan(call, None, call.arguments, ready)
        tool = self.tools.get(call.name)
        if tool is None:
            names = ", ".join(sorted(self.tools)) or "(none)"
            text = f"unknown tool {call.name!r}; the tools you can call are: {names}"
            ready = CallOutcome(call, result_part(call, text, True), "unknown_tool", call.arguments)
            return _Plan(call, None, call.arguments, ready)
        decision = await self._decide(call)
        if isinstance(decision, Deny):
            text = f"tool call {call.name!r} was denied: {decision.reason}"
            ready = CallOutcome(call, result_part(call, text, True), "denied", call.arguments)
            return _Plan(call, tool, call.arguments, ready)
        if isinstance(decision, Rewrite):
            args = decision.arguments
            return _Plan(call, tool, args if isinstance(args, str) else json.dumps(args), None)
        return _Plan(call, tool, call.arguments, None)

    async def _decide(self, call: ToolCallPart) -> Allow | Deny | Rewrite:
        if self.hooks.pre_tool is None:
            return Allow()
        decision = await call_hook(self.hooks.pre_tool(call))
        if isinstance(decision, Ask):
            if self.hooks.approve is None:
                return Deny(f"needs approval and no approval callback is set ({decision.reason})")
            approved = await call_hook(self.hooks.approve(call, decision.reason))
            return Allow() if approved else Deny(decision.reason or "not approved")
        if decision is None:
            return Allow()
        if not isinstance(decision, Allow | Deny | Rewrite):
            raise TypeError(
                f"pre_tool hook returned {decision!r}; return Allow, Deny, Rewrite, Ask or None"
            )
        return decision

    async def _execute(self, plan: _Plan, channel: ProgressChannel) -> CallOutcome:
        assert plan.tool is not None
        tool, call = plan.tool, plan.call
        start = time.monotonic()
        with channel.bound(call):  # the call's task (and its thread) report to its steps
            inner = asyncio.ensure_future(_invoke(tool, plan.arguments))
        try:
            done, _ = await asyncio.wait({inner}, timeout=tool.timeout)
        finally:
            inner.cancel()  # no-op when it finished
        seconds = time.monotonic() - start
        if not done:
            text = f"tool {tool.name!r} timed out after {tool.timeout:g} s and was stopped"
            if not tool.is_async:  # a thread cannot be stopped: say so, lest the model retry
                text = (
                    f"tool {tool.name!r} timed out after {tool.timeout:g} s; it may still "
                    "finish in the background, and its result will not be shown"
                )
            return CallOutcome(call, result_part(call, text, True), "timeout", plan.arguments,
                               seconds=seconds)  # fmt: skip
        result = inner.result()
        if self.hooks.post_tool is not None:
            result = _post_tool_result(await call_hook(self.hooks.post_tool(call, result)), result)
        content, cut = truncate(result.content, self.max_output_chars)
        outcome: ToolOutcome = "error" if result.is_error else "ok"
        part = result_part(call, content, result.is_error)
        return CallOutcome(call, part, outcome, plan.arguments, cut, seconds)


def _post_tool_result(changed: object, result: ToolResult) -> ToolResult:
    """What a post_tool hook returned, as the result the model sees: a ToolResult replaces it,
    a str replaces its content (``is_error`` kept), None keeps it."""
    if changed is None:
        return result
    if isinstance(changed, ToolResult):
        return changed
    if isinstance(changed, str):
        return ToolResult(changed, result.is_error)
    raise TypeError(
        f"post_tool hook returned {changed!r}; return a ToolResult, a str (the new content) "
        "or None (keep the result)"
    )


def _finish(call: ToolCallPart, output: AgentOutput | None) -> CallOutcome:
    try:
        args: JsonValue = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError:
        args = call.arguments
    if output is None:
        return CallOutcome(call, result_part(call, "finished", False), "finish", call.arguments,
                           finish_arguments=args)  # fmt: skip
    try:
        parsed, text = output.parse_finish(call.arguments)
    except OutputValidationError as exc:
        feedback = output.feedback(exc, cut=False, finish=True)
        return CallOutcome(call, result_part(call, feedback, True), "error", call.arguments,
                           output_error=exc)  # fmt: skip
    return CallOutcome(call, result_part(call, "finished", False), "finish", call.arguments,
                       finish_arguments=args, parsed=parsed, answer_text=text)  # fmt: skip


async def _wait_reporting(
    task: asyncio.Future[CallOutcome],
    waiter: asyncio.Future[Literal[True]],
    channel: ProgressChannel,
) -> AsyncGenerator[Progress, None]:
    """Wait until ``task`` is done or ``waiter`` fires, passing on progress as it comes."""
    while not task.done() and not waiter.done():
        getter = asyncio.ensure_future(channel.queue.get())
        waiting: set[asyncio.Future[Any]] = {task, waiter, getter}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            yield getter.result()


def _batches(plans: Sequence[_Plan]) -> list[list[_Plan]]:
    """Consecutive concurrent calls together; a non-concurrent tool's call alone."""
    batches: list[list[_Plan]] = []
    for plan in plans:
        if _alone(plan) or not batches or _alone(batches[-1][-1]):
            batches.append([plan])
        else:
            batches[-1].append(plan)
    return batches


def _alone(plan: _Plan) -> bool:
    return plan.ready is None and plan.tool is not None and not plan.tool.concurrent


async def _invoke(tool: Tool, arguments: str) -> ToolResult:
    if tool.is_async:
        return await tool.arun(arguments)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[ToolResult] = loop.create_future()

    def deliver(result: ToolResult) -> None:
        if not future.done():
            future.set_result(result)

    def target() -> None:
        try:
            result = tool.run(arguments)
        except BaseException as exc:  # run() never raises for the tool's own errors
            result = ToolResult(f"tool {tool.name!r} failed: {exc!r}", is_error=True)
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(deliver, result)

    context = contextvars.copy_context()  # progress reports reach the call's steps
    threading.Thread(
        target=context.run, args=(target,), name=f"hearth-tool-{tool.name}", daemon=True
    ).start()
    return await future
