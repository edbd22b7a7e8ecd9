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
frozen objects are still freed by reference counting. The youngest generation is
collected after `YOUNG_THRESHOLD` allocations instead of 700.
"""

from __future__ import annotations

import gc

#: Allocations (less deallocations) between two collections of the youngest generation.
#: CPython's default, 700, set one off every request or two of a busy service: with
#: many requests in flight their objects survived it and were promoted. Under
#: `bench_xapi.py` the gateway spent 373 ms collecting with 700, 143 ms with 10,000
#: (ADR 0112). Most of a request's objects are freed by reference counting anyway.
YOUNG_THRESHOLD = 10_000


def freeze_start_up_heap() -> int:
    """Collect start-up garbage, exempt the surviving objects from collections, and
    raise the youngest generation's threshold to `YOUNG_THRESHOLD`.

    Returns how many objects are frozen.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return gc.get_freeze_count()
