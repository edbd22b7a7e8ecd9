"""Garbage collection of a running service: the start-up heap is frozen (`gc.freeze`).

A service builds a few hundred thousand objects at start that live as long as
the process: modules, routes, pydantic and SQLAlchemy schemas, compiled
statements. CPython's full collection visits every one of them; for the gateway
that is 120-150 ms on the shared 2-core machine, during which no request moves,
and under a burst of joins such pauses showed in the profiles of both the
gateway and competitions as single allocations holding the loop for hundreds of
milliseconds (docs/performance.md, "Joins").

Once the service started, `freeze_start_up_heap` collects what start-up left
behind and moves the rest to the permanent generation, which collections no
longer visit. Objects made later are collected as before, cycles included;
frozen objects are still freed by reference counting.
"""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> int:
    """Collect start-up garbage, then exempt the surviving objects from collections.

    Returns how many objects are frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
