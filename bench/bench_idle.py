"""Idle CPU of the whole `make dev` stack (issue #14: "idle is idle").

Starts `python -m podium_runtime.devstack` (exactly what `make dev` runs) in its
own process group on `--port` (default 8900), waits until every service
answers `/health/ready`, lets it settle, then sums utime + stime of every
process of the stack (services, Postgres, Redis, the broker) from /proc
before and after a window of `--seconds` (default 60) with no traffic.
Prints each process's share and the total as a percentage of one core.

`--pids 1,2,3` measures a stack that is already running instead (every
descendant of those PIDs is included). `--threads N` also lists the N busiest
threads with their wake-ups a second (voluntary context switches): what wakes
an idle process, named as the JVM names its threads.
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


def _thread_samples(pids: list[int]) -> dict[tuple[int, int], tuple[str, int, int]]:
    """Return (pid, tid) -> (thread name, utime + stime, voluntary context switches)."""
    samples = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (task / "stat").read_text()
                    status = (task / "status").read_text()
                    fields = stat.rsplit(")", 1)[1].split()
                    name = stat.split("(", 1)[1].rsplit(")", 1)[0]
                    switches = int(status.split("voluntary_ctxt_switches:")[1].split()[0])
                    samples[(pid, int(task.name))] = (
                        name,
                        int(fields[11]) + int(fields[12]),
                        switches,
                    )
    return samples


def report_threads(
    before: dict[tuple[int, int], tuple[str, int, int]],
    after: dict[tuple[int, int], tuple[str, int, int]],
    seconds: float,
    count: int,
) -> None:
    """Print the `count` busiest threads, then the stack's wake-ups a second."""
    rows = []
    for key, (name, ticks, switches) in after.items():
        if key in before:
            cpu = 100 * (ticks - before[key][1]) / TICKS / seconds
            rows.append((cpu, (switches - before[key][2]) / seconds, key[0], name))
    rows.sort(key=lambda row: (-row[0], -row[1]))
    for cpu, wakes, pid, name in rows[:count]:
        print(f"{cpu:6.2f} %  {wakes:6.1f} wake-ups/s  {pid} {name}")
    print(f"wake-ups of the whole stack: {sum(row[1] for row in rows):.0f} a second")


def measure(roots: list[int], seconds: float, threads: int = 0) -> list[tuple[str, float]]:
    """Return (process, % of one core) over `seconds`, busiest first, for the stack at `roots`."""
    pids = descendants(roots)
    before = {pid: cpu_ticks(pid) for pid in pids}
    threads_before = _thread_samples(pids) if threads else {}
    time.sleep(seconds)
    if threads:
        report_threads(threads_before, _thread_samples(pids), seconds, threads)
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
    parser.add_argument("--threads", type=int, default=0, help="list the N busiest threads")
    args = parser.parse_args()
    if args.pids:
        roots = [int(p) for p in args.pids.split(",")]
        report(measure(roots, args.seconds, args.threads), args.seconds)
        return 0
    with dev_stack(args.port) as stack:
        time.sleep(args.settle)
        report(measure([stack.pid], args.seconds, args.threads), args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
