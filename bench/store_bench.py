"""The result store's costs: ``python bench/store_bench.py``.

Per task, in µs, on one SQLite file in a temporary directory, 4 workers:
a first run of N cached tasks (each a lookup that misses, then a write),
a rerun (each a lookup that hits; nothing is read until used), a rerun
that uses every value (each a row read), against the same tasks with no
store; and the store's size per task for small results. The median of a
few repeats; the machine's noise applies (see README, Performance).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from asynckit import Pool

N = 10_000
REPEATS = 5


def work(i: int) -> int:
    return i * 2


def run(store: Path | None, use: bool) -> float:
    with Pool(4, store=store) as pool:
        task = pool.task(work, cache=store is not None)
        started = time.perf_counter()
        values = [task(i) for i in range(N)]
        if use:
            total = 0
            for value in values:
                total += value
        pool.wait()
        return (time.perf_counter() - started) / N * 1e6


def main() -> None:
    rows: dict[str, list[float]] = {"no store": [], "first run (miss + write)": [],
                                    "rerun, nothing used (hit)": [],
                                    "rerun, every value used (hit + read)": []}
    size = 0.0
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "r.db"
            rows["no store"].append(run(None, True))
            rows["first run (miss + write)"].append(run(path, True))
            rows["rerun, nothing used (hit)"].append(run(path, False))
            rows["rerun, every value used (hit + read)"].append(run(path, True))
            size = sum(p.stat().st_size for p in Path(folder).iterdir()) / N
    base = statistics.median(rows["no store"])
    print(f"store bench, {N:,} tasks, 4 workers, median of {REPEATS}, "
          f"Python {sys.version.split()[0]}")
    print(f"{'what':40} {'µs/task':>9} {'min':>9} {'x no store':>11}")
    for name, times in rows.items():
        median = statistics.median(times)
        print(f"{name:40} {median:9.2f} {min(times):9.2f} {median / base:11.2f}")
    print(f"store size per task (int results, file + WAL): {size:.0f} bytes")


if __name__ == "__main__":
    main()
