"""async def tasks on the pool's event loop, beside threads and a plain asyncio.gather.

Run ``python bench/async_bench.py`` (``--quick`` for 2,000 tasks). Prints:

- 10,000 coroutine tasks each awaiting ``asyncio.sleep(0.05)``: wall time
  against the ideal 0.05 s (all at once), and against 10,000 threaded tasks
  doing ``time.sleep(0.05)`` on 50 workers (ideal 10,000 / 50 * 0.05 = 10 s);
- per-task cost of a no-op coroutine task (submit, run on the loop, settle,
  collected with ``AsyncList.get()``) against ``asyncio.gather`` of the same
  coroutines on a plain loop (``asyncio.run``).

Figures are from one run; ratio = asynckit / peer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asynckit import AsyncList, Pool  # noqa: E402

SLEEP = 0.05


async def nap() -> None:
    await asyncio.sleep(SLEEP)


async def noop() -> None:
    return None


def coroutines_sleeping(count: int) -> tuple[float, int]:
    pool = Pool(worker_count=2, name="bench-async")
    threads = 0

    async def nap_and_count() -> None:
        nonlocal threads
        threads = max(threads, threading.active_count())
        await asyncio.sleep(SLEEP)

    pool.do(noop).get()  # start the loop thread outside the timing
    began = time.perf_counter()
    AsyncList([pool.do(nap_and_count) for _ in range(count)]).get()
    took = time.perf_counter() - began
    pool.shutdown()
    return took, threads


def threads_sleeping(count: int, workers: int) -> tuple[float, int]:
    pool = Pool(worker_count=workers, name="bench-threads")
    threads = 0

    def nap_in_a_thread() -> None:
        nonlocal threads
        threads = max(threads, threading.active_count())
        time.sleep(SLEEP)

    began = time.perf_counter()
    AsyncList([pool.do(nap_in_a_thread) for _ in range(count)]).get()
    took = time.perf_counter() - began
    pool.shutdown()
    return took, threads


def asynckit_noops(count: int) -> float:
    pool = Pool(worker_count=2, name="bench-noop")
    pool.do(noop).get()
    began = time.perf_counter()
    AsyncList([pool.do(noop) for _ in range(count)]).get()
    took = time.perf_counter() - began
    pool.shutdown()
    return took


def gather_noops(count: int) -> float:
    async def main() -> float:
        began = time.perf_counter()
        await asyncio.gather(*[noop() for _ in range(count)])
        return time.perf_counter() - began

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 tasks instead of 10,000")
    options = parser.parse_args()
    count = 2_000 if options.quick else 10_000
    workers = 50

    coro_time, coro_threads = coroutines_sleeping(count)
    thread_time, thread_threads = threads_sleeping(count, workers)
    ours = asynckit_noops(count)
    peer = gather_noops(count)

    rows = [
        (f"{count:,} x asyncio.sleep({SLEEP}) as async tasks", f"{coro_time:.3f} s",
         f"ideal {SLEEP:.3f} s", f"{coro_time / SLEEP:.1f}x ideal", coro_threads),
        (f"{count:,} x time.sleep({SLEEP}) on {workers} threads", f"{thread_time:.3f} s",
         f"ideal {count / workers * SLEEP:.3f} s",
         f"async {thread_time / coro_time:.0f}x faster", thread_threads),
        (f"no-op async task, per task ({count:,})", f"{ours / count * 1e6:.1f} us",
         f"gather {peer / count * 1e6:.1f} us", f"ratio {ours / peer:.1f}", "-"),
    ]
    header = ("case", "wall / cost", "reference", "comparison", "threads")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
