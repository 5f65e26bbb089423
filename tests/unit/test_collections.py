"""Short collections: long-lived state is frozen as it grows, and thawed and collected hourly."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Iterator

from monitor.app.upkeep import keep_collections_short


class Node:
    """An object that can take part in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@contextlib.contextmanager
def thawed_afterwards() -> Iterator[None]:
    try:
        yield
    finally:
        gc.unfreeze()


def run_for(seconds: float, every_s: float, thaw_every: int) -> None:
    async def run() -> None:
        task = asyncio.create_task(keep_collections_short(every_s, thaw_every))
        await asyncio.sleep(seconds)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())


def test_what_lives_on_is_frozen_out_of_the_collectors_passes() -> None:
    with thawed_afterwards():
        gc.unfreeze()
        state = [Node() for _ in range(1000)]
        run_for(0.05, every_s=0.01, thaw_every=1000)
        assert gc.get_freeze_count() >= len(state)
        assert not any(state[0] is o for o in gc.get_objects())  # frozen: not in a generation


def test_a_cycle_frozen_before_it_became_garbage_is_collected_at_the_thaw() -> None:
    with thawed_afterwards():
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        gc.freeze()
        del a, b
        gc.collect()
        assert gone() is not None  # frozen: a full pass leaves it
        run_for(0.1, every_s=0.01, thaw_every=3)
        assert gone() is None
