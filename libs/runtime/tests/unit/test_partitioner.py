"""The runtime's partitioner chooses what aiokafka's default one chooses, key for key."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st
from podium_runtime.broker import remembered_partitioner

DEFAULT = DefaultPartitioner()


@given(
    keys=st.lists(st.binary(max_size=64), min_size=1, max_size=20),
    count=st.integers(min_value=1, max_value=64),
)
def test_every_key_lands_where_the_default_partitioner_puts_it(
    keys: list[bytes], count: int
) -> None:
    partitions = list(range(count))
    for key in keys + keys:  # the second pass answers from what was remembered
        assert remembered_partitioner(key, partitions, partitions) == DEFAULT(
            key, partitions, partitions
        )


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    chosen = {remembered_partitioner(None, [0, 1, 2, 3], [1, 3]) for _ in range(50)}
    assert chosen <= {1, 3}
