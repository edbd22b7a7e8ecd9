"""Long fetches while a consumer holds nothing, short ones while it does (ADR 0077).

An idle aiokafka consumer sends one fetch per `fetch_max_wait_ms` and the broker
holds it that long: with 500 ms, two round trips a second per service, each
parsed in Python, and the broker's share of the idle stack. Apache Kafka answers
a held fetch as soon as records arrive, so the wait itself costs no latency,
with one exception: aiokafka keeps one fetch in flight per broker, and a fetch
sent while some partitions still have records waiting to be consumed leaves
those partitions out. Once the records are consumed, the next fetch of those
partitions waits until the held one returns, so there a long wait is latency.

`IdleFetcher` therefore picks the wait per request: `fetch_max_wait_ms` while any
assigned partition is left out of the fetch (records buffered, paused, position
being reset), and the longer `idle_wait_ms` when the fetch covers every assigned
partition, where nothing can be waiting behind it. Idle, the fetch routine also
stops waking every 200 ms (`consumer_timeout_ms`) to re-check what the events it
awaits already tell it. After a rebalance the fetch connection is replaced if an
idle fetch may still be held on it, so the new partitions are fetched at once.
A round that finds a fetch ended but still marked in flight looks again at once
(`IdleFetcher.answered_unmarked`, ADR 0106).
Requests a consumer sends on the same connection (ListOffsets) queue behind a
held fetch: the broker handles one request per connection at a time, so whoever
needs end offsets promptly asks through a client of its own
(`podium_ingest.consistency`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aiokafka.client import ConnectionGroup
from aiokafka.conn import CloseReason
from aiokafka.consumer.fetcher import Fetcher
from faststream.kafka import KafkaBroker

from podium_runtime.commits import MovedOffsetsConsumer


class IdleFetcher(Fetcher):  # type: ignore[misc]
    """A `Fetcher` whose fetch wait is `idle_wait_ms` when the fetch covers every partition."""

    #: Set by `IdleAwareConsumer.start`; the busy wait is the consumer's `fetch_max_wait_ms`.
    idle_wait_ms: int = 0
    busy_wait_ms: int = 0
    #: The assignment the last fetches were sent for, and whether they were idle ones.
    _sent_for: Any = None
    _idle_sent: bool = False

    def _get_actions_per_node(self, assignment: Any) -> Any:
        if self._idle_sent and assignment is not self._sent_for:
            self.release_held_fetch()
        idle = self.holds_nothing(assignment)
        self._fetch_max_wait_ms = self.idle_wait_ms if idle else self.busy_wait_ms
        actions = super()._get_actions_per_node(assignment)
        requests, resets, _, invalid_metadata, resume_futures = actions
        if requests:  # fetch requests go out now
            self._sent_for, self._idle_sent = assignment, idle
        if self.answered_unmarked():
            return requests, resets, 0, invalid_metadata, resume_futures
        if not idle:
            return actions
        # The fetch routine also wakes every `consumer_timeout_ms` (200 ms) to look again;
        # with nothing held every event it waits for (the fetch's answer, a consumed
        # batch, a rebalance, a metadata update) wakes it anyway, so idle it sleeps on.
        return requests, resets, self.idle_wait_ms / 1000, invalid_metadata, resume_futures

    def answered_unmarked(self) -> bool:
        """Return True when a fetch has ended but still counts as in flight.

        aiokafka clears a node's in-flight mark in a callback of the fetch's task, and
        its routine drops a finished task from the tasks it waits on as soon as it sees
        it done, which can come first. The node's partitions are then left out of this
        round's fetch, and nothing the routine waits on would wake it: it would sleep
        its whole timeout (here the idle wait, 5 s) with records waiting. It looks again
        at once instead; by then the callback has cleared the mark.
        """
        return bool(self._in_flight) and all(task.done() for task in self._pending_tasks)

    def release_held_fetch(self) -> None:
        """Close the fetch connections after a rebalance: an idle fetch may still be held there.

        The fetch routine cancelled its fetch, but the broker answers nothing else on
        that connection until the held fetch ends, so the new assignment's first fetch
        would wait up to the idle wait behind it. A new connection costs a round trip.
        """
        self._idle_sent = False
        for (node_id, group), connection in list(self._client._conns.items()):
            if group == ConnectionGroup.DEFAULT and node_id != "bootstrap":
                connection.close(reason=CloseReason.SHUTDOWN)

    def holds_nothing(self, assignment: Any) -> bool:
        """Return True when the next fetch includes every assigned partition.

        A partition is left out while its fetched records wait to be consumed, while it
        is paused, or while its position is being reset.
        """
        for tp in assignment.tps:
            if tp in self._records:
                return False
            state = assignment.state_value(tp)
            if state.paused or not state.has_valid_position:
                return False
        return True


class IdleAwareConsumer(MovedOffsetsConsumer):
    """An `AIOKafkaConsumer` whose fetcher is an `IdleFetcher` waiting `idle_wait_ms` when idle.

    Its commits carry only the partitions that moved (`podium_runtime.commits`).
    """

    def __init__(self, *topics: str, idle_wait_ms: int, **options: Any) -> None:
        super().__init__(*topics, **options)
        self._idle_wait_ms = max(idle_wait_ms, self._fetch_max_wait_ms)

    async def start(self) -> None:
        """Start as aiokafka does, then let the fetcher choose its wait per request."""
        await super().start()
        fetcher = self._fetcher
        fetcher.__class__ = IdleFetcher  # the same object: its running fetch task keeps going
        fetcher.busy_wait_ms = self._fetch_max_wait_ms
        fetcher.idle_wait_ms = self._idle_wait_ms


class IdleAwareKafkaBroker(KafkaBroker):
    """A faststream `KafkaBroker` whose subscribers consume through `IdleAwareConsumer`."""

    def __init__(self, *args: Any, idle_wait_ms: int, **options: Any) -> None:
        super().__init__(*args, **options)
        self.idle_wait_ms = idle_wait_ms

    async def _connect(self) -> Any:
        await super()._connect()
        # faststream sets its consumer builder (a partial of AIOKafkaConsumer) on connect.
        config = self.config.broker_config
        built: Any = config.builder
        config.builder = partial(
            IdleAwareConsumer, *built.args, idle_wait_ms=self.idle_wait_ms, **built.keywords
        )
        return config.builder
