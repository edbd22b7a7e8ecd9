"""Background tasks stop at shutdown even when a library swallowed their cancellation."""

from __future__ import annotations

import asyncio

from podium_runtime.runtime import stop_tasks


async def _retry_loop(attempts: list[int]) -> None:
    # A job's retry loop around a call whose library turns a cancellation into its own
    # error (as redis-py can while it reconnects): the loop sees an ordinary failure.
    while True:
        try:
            try:
                await asyncio.sleep(3600)  # inside the library call
            except asyncio.CancelledError:
                raise ConnectionError("connection closed") from None
        except Exception:
            attempts.append(1)
        await asyncio.sleep(3600)  # the loop's own back-off before the next attempt


async def test_a_task_whose_cancellation_was_swallowed_is_cancelled_again() -> None:
    attempts: list[int] = []
    task = asyncio.create_task(_retry_loop(attempts))
    await asyncio.sleep(0)
    await stop_tasks([task], every=0.05)
    assert task.cancelled()
    # The first request was swallowed in the call; the second ended the back-off.
    assert attempts == [1]
    assert task.cancelling() == 2


async def test_well_behaved_tasks_end_at_the_first_request() -> None:
    tasks = [asyncio.create_task(asyncio.sleep(3600)) for _ in range(3)]
    await asyncio.sleep(0)
    await stop_tasks(tasks, every=0.05)
    assert [(task.cancelled(), task.cancelling()) for task in tasks] == [(True, 1)] * 3
