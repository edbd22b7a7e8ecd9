"""Offset commits that carry only the partitions that moved (ADR 0110).

After every handled poll faststream acknowledges with `consumer.commit()`, and
aiokafka then commits the position of every assigned partition: a service that
consumes six topics of six partitions sends 36 offsets per commit, and the broker
appends 36 records to `__consumer_offsets`, when one or two partitions moved.
`MovedOffsetsConsumer.commit()` sends only the positions that differ from what it
committed last for the same assignment, and no request at all when none moved.

What was committed is remembered per assignment: after a rebalance the first
commit sends every position again, so a partition this member just received is
recorded under this member's generation too. A commit that fails records nothing,
so its positions are sent again with the next one. Explicit offsets
(`commit({tp: offset})`) pass through unchanged.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer


class MovedOffsetsConsumer(AIOKafkaConsumer):  # type: ignore[misc]
    """An `AIOKafkaConsumer` whose `commit()` sends only the positions that moved."""

    _committed_for: Any = None
    _committed: dict[Any, int]

    async def commit(self, offsets: Any = None) -> None:
        """Commit `offsets`, or the consumed positions that changed since the last commit."""
        subscription = self._subscription.subscription
        assignment = None if subscription is None else subscription.assignment
        if offsets is not None or assignment is None:
            await super().commit(offsets)  # aiokafka's checks and errors, unchanged
            return
        if assignment is not self._committed_for:
            self._committed_for, self._committed = assignment, {}
        moved = {
            tp: position
            for tp, position in assignment.all_consumed_offsets().items()
            if self._committed.get(tp) != position.offset
        }
        if not moved:
            return
        await super().commit(moved)
        for tp, position in moved.items():
            self._committed[tp] = position.offset
