"""Idle CPU of the whole `make dev` stack (issue #14: "idle is idle").

Starts `python -m podium_runtime.devstack` (exactly what `make dev` runs) in its
own process group on `--port` (default 8900), waits until every service
answers `/health/ready`, lets it settle, then sums utime + stime of every
process of the stack (services, Postgres, Redis, the broker) from /proc
before and after a window of `--seconds` (default 60) with no traffic.
Prints each process's share and the total as a percentage of one core.

`--pids 1,2,3` measures a stack that is already running instead (every
descendant of those PIDs is included).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from _support import dev_stack

TICKS = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(roots: list[int]) -> list[int]:
    """Return `roots` and every process below them."""
    tree, found, todo = _children(), [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def cpu_ticks(pid: int) -> tuple[str, int] | None:
    """Return a process's name and utime + stime in clock ticks, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return cmdline[:70] or stat.split("(", 1)[1].split(")")[0], int(fields[11]) + int(fields[12])


def measure(roots: list[int], seconds: float) -> list[tuple[str, float]]:
    """Return (process, % of one core) over `seconds`, busiest first, for the stack at `roots`."""
    pids = descendants(roots)
    before = {pid: cpu_ticks(pid) for pid in pids}
    time.sleep(seconds)
    shares = []
    for pid in pids:
        start, end = before[pid], cpu_ticks(pid)
        if start is not None and end is not None:
            shares.append((f"{pid} {end[0]}", 100 * (end[1] - start[1]) / TICKS / seconds))
    return sorted(shares, key=lambda item: -item[1])


def report(shares: list[tuple[str, float]], seconds: float) -> None:
    """Print the busiest processes and the total."""
    for name, share in shares[:15]:
        print(f"{share:6.2f} %  {name}")
    total = sum(share for _, share in shares)
    print(f"idle stack: {total:.2f} % of one core over {seconds:.0f} s ({len(shares)} processes)")


def main() -> int:
    """Measure a running stack (`--pids`) or start one and measure it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=15.0)
    parser.add_argument("--pids", default="")
    args = parser.parse_args()
    if args.pids:
        report(measure([int(p) for p in args.pids.split(",")], args.seconds), args.seconds)
        return 0
    with dev_stack(args.port) as stack:
        time.sleep(args.settle)
        report(measure([stack.pid], args.seconds), args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
