"""The worker-to-consumer channels: order, no lost wake-ups, and one loop wake-up per batch."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from hearth.backends.local.channel import AsyncChannel, LoopWaker, SyncChannel, held_wakeups
from hearth.events import Done, TextDelta, Usage


def _deltas(n: int) -> list[TextDelta]:
    return [TextDelta(f"t{i} ") for i in range(n)]


class _CountingLoop:
    """The running loop, with its thread-safe calls counted."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.wakeups = 0

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> Any:
        self.wakeups += 1
        return self.loop.call_soon_threadsafe(callback, *args)

    def create_future(self) -> asyncio.Future[None]:
        return self.loop.create_future()


def test_sync_channel_keeps_order() -> None:
    channel = SyncChannel()
    items = _deltas(5)
    threading.Thread(target=lambda: [channel.put(i) for i in items]).start()
    assert [channel.get() for _ in items] == items


def test_async_channel_delivers_every_item_in_order_from_a_thread() -> None:
    """A consumer that waits for each item (it keeps up) gets every one, in order, even when
    the producer races it token by token."""
    items: list[TextDelta | Done] = [*_deltas(2000), Done("end_turn", Usage(1, 2000))]

    async def main() -> list[object]:
        channel = AsyncChannel()
        producer = threading.Thread(target=lambda: [channel.put(i) for i in items])
        producer.start()
        got = [await channel.get() for _ in items]
        await asyncio.to_thread(producer.join)
        return got

    assert asyncio.run(main()) == items


def test_async_channel_wakes_a_waiting_consumer_for_each_token() -> None:
    """Streaming stays per token: a consumer already waiting gets each item as it is put."""

    async def main() -> list[str]:
        channel = AsyncChannel()
        got: list[str] = []
        for i in range(3):
            pending = asyncio.ensure_future(channel.get())
            await asyncio.sleep(0)  # the consumer now waits
            threading.Thread(target=channel.put, args=(TextDelta(str(i)),)).start()
            item = await asyncio.wait_for(pending, 5)
            assert isinstance(item, TextDelta)
            got.append(item.text)
        return got

    assert asyncio.run(main()) == ["0", "1", "2"]


def test_async_channel_hands_a_backlog_over_with_one_wakeup() -> None:
    """A consumer that fell behind finds everything that arrived meanwhile, for one hop."""

    async def main() -> tuple[int, int, list[object]]:
        channel = AsyncChannel()
        counting = _CountingLoop(asyncio.get_running_loop())
        channel._waker.loop = counting  # type: ignore[assignment]
        items = _deltas(40)
        producer = threading.Thread(target=lambda: [channel.put(i) for i in items])
        producer.start()
        producer.join()  # the loop is busy (blocked here) while all 40 arrive
        ready = channel.ready
        got = [await channel.get() for _ in items]
        assert got == items
        return ready, counting.wakeups, got

    ready, wakeups, _ = asyncio.run(main())
    assert ready == 40
    assert wakeups == 1


def test_async_channel_put_after_the_loop_closed_is_ignored() -> None:
    async def make() -> AsyncChannel:
        return AsyncChannel()

    channel = asyncio.run(make())
    channel.put(TextDelta("late"))  # the consumer is gone; nothing raises


def test_get_merged_joins_a_backlog_of_text_but_nothing_else() -> None:
    """Tokens that piled up leave as one delta; a Done, an error or a delta carrying more than
    text keeps its place and its identity."""

    async def main() -> list[object]:
        channel = AsyncChannel()
        signed = TextDelta("", signature="sig")
        error = ValueError("boom")
        for item in [*_deltas(3), signed, *_deltas(2), error, TextDelta("x")]:
            channel.put(item)
        channel.put(Done("end_turn", Usage(1, 6)))
        return [await channel.get_merged() for _ in range(5)]

    got = asyncio.run(main())
    assert got[0] == TextDelta("t0 t1 t2 ")
    assert got[1] == TextDelta("", signature="sig")
    assert got[2] == TextDelta("t0 t1 ")
    assert isinstance(got[3], ValueError)
    assert got[4] == TextDelta("x")


def test_get_merged_gives_each_token_alone_to_a_consumer_that_keeps_up() -> None:
    async def main() -> list[object]:
        channel = AsyncChannel()
        got = []
        for i in range(3):
            pending = asyncio.ensure_future(channel.get_merged())
            await asyncio.sleep(0)
            channel.put(TextDelta(str(i)))
            got.append(await asyncio.wait_for(pending, 5))
        return got

    assert asyncio.run(main()) == [TextDelta("0"), TextDelta("1"), TextDelta("2")]


def test_channels_sharing_a_waker_wake_the_loop_once_per_step() -> None:
    """The worker puts a token in every running stream's channel in one step: the loop is
    woken once for all of them, and each consumer still gets exactly its own items."""

    async def main() -> tuple[int, list[list[object]]]:
        loop = asyncio.get_running_loop()
        waker = LoopWaker(loop)
        channels = [AsyncChannel(waker) for _ in range(8)]
        assert all(c.waker is waker for c in channels)
        counting = _CountingLoop(loop)
        waker.loop = counting  # type: ignore[assignment]
        consumers = [asyncio.ensure_future(c.get()) for c in channels]
        await asyncio.sleep(0)  # every consumer waits

        def step(n: int) -> None:
            for i, channel in enumerate(channels):
                channel.put(TextDelta(f"{i}:{n}"))

        producer = threading.Thread(target=step, args=(0,))
        producer.start()
        producer.join()  # the whole step lands before the loop runs again
        first = [await asyncio.wait_for(c, 5) for c in consumers]
        wakeups = counting.wakeups
        step(1)  # from the loop's own thread this time, then read
        second = [await c.get() for c in channels]
        return wakeups, [first, second]

    wakeups, (first, second) = asyncio.run(main())
    assert wakeups == 1
    assert first == [TextDelta(f"{i}:0") for i in range(8)]
    assert second == [TextDelta(f"{i}:1") for i in range(8)]


def test_a_waker_of_another_loop_is_not_shared() -> None:
    async def make_waker() -> LoopWaker:
        return LoopWaker(asyncio.get_running_loop())

    old = asyncio.run(make_waker())

    async def main() -> object:
        channel = AsyncChannel(old)
        assert channel.waker is not old  # it would wake a loop nobody runs
        threading.Thread(target=channel.put, args=(TextDelta("x"),)).start()
        return await asyncio.wait_for(channel.get(), 5)

    assert asyncio.run(main()) == TextDelta("x")


def test_held_wakeups_wake_each_loop_once_when_the_step_ends() -> None:
    """The worker samples every sequence of a step inside held_wakeups: nothing wakes the loop
    before the step ends (the loop cannot take the GIL between two samples), then one wake-up
    delivers every stream's token, in order."""

    async def main() -> tuple[int, int, list[object]]:
        loop = asyncio.get_running_loop()
        waker = LoopWaker(loop)
        channels = [AsyncChannel(waker) for _ in range(4)]
        counting = _CountingLoop(loop)
        waker.loop = counting  # type: ignore[assignment]
        during: list[int] = []

        def step() -> None:
            with held_wakeups():
                for i, channel in enumerate(channels):
                    channel.put(TextDelta(str(i)))
                    with held_wakeups():  # nested: part of the outer one
                        channel.put(TextDelta(f"{i}b"))
                during.append(counting.wakeups)

        worker = threading.Thread(target=step)
        worker.start()
        got = [await asyncio.wait_for(c.get_merged(), 5) for c in channels]
        await asyncio.to_thread(worker.join)
        return during[0], counting.wakeups, got

    during, after, got = asyncio.run(main())
    assert during == 0
    assert after == 1
    assert got == [TextDelta(f"{i}{i}b") for i in range(4)]
