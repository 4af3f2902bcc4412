"""Peak memory of a million fire-and-forget tasks: asynckit beside ThreadPoolExecutor.

Run ``python bench/memory.py`` (``--tasks N`` for another count). Each side
runs in its own fresh interpreter, so one's peak cannot hide the other's: the
script submits N no-op tasks without keeping their results, waits for all of
them, and reports its peak resident set size (``ru_maxrss``). The ratio is
asynckit / ThreadPoolExecutor (below 1 means asynckit needs less).

What is measured is the cost of *pending* work: both sides hold every task
that has been submitted and not yet run, so the peak depends on how far the
submitting thread gets ahead of the workers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4

CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
kind, tasks, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def noop(x):
    return x

start = time.perf_counter()
if kind == "asynckit":
    import asynckit
    pool = asynckit.Pool(workers)
    do = pool.do
    for i in range(tasks):
        do(noop, i)
    pool.wait()
else:
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(workers)
    submit = pool.submit
    for i in range(tasks):
        submit(noop, i)
    pool.shutdown(wait=True)
elapsed = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak_kib, elapsed)
"""


def measure(kind: str, tasks: int, workers: int) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one side, in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), kind, str(tasks), str(workers)],
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout.split()
    return int(out[0]) / 1024, float(out[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=WORKERS)
    args = parser.parse_args(argv)
    print(f"{args.tasks:,} fire-and-forget no-op tasks, {args.workers} workers; "
          f"peak RSS of a fresh interpreter, and its growth over the same "
          f"interpreter running no task (imports: wrapt brings asyncio along)")
    rows = []
    for label, kind in (("asynckit", "asynckit"), ("ThreadPoolExecutor", "threadpool")):
        base, _ = measure(kind, 0, args.workers)
        peak, seconds = measure(kind, args.tasks, args.workers)
        rows.append((peak, peak - base))
        print(f"  {label:<20}{peak:8.1f} MiB peak  {peak - base:8.1f} MiB growth  "
              f"{seconds:6.1f} s")
    (ours, ours_growth), (theirs, theirs_growth) = rows
    print(f"  ratio asynckit / ThreadPoolExecutor: peak {ours / theirs:.2f}, "
          f"growth {ours_growth / max(theirs_growth, 0.1):.2f}")

if __name__ == "__main__":
    main()
