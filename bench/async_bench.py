"""async def tasks on the pool's event loop, beside asyncio.gather on a plain loop.

Run ``python bench/async_bench.py`` (``--quick`` for 2,000 tasks and fewer
repeats; ``--base DIR`` adds the asynckit of another checkout, alternating
with this one in the same process, for a before/after). ``rows(quick)`` gives
the two coroutine rows to ``python -m bench``.

What each side includes (both with their event loop already running, both
creating the coroutines and waiting for every result):

- **no-op task**: asynckit: ``AsyncList([pool.do(noop) for _ in range(n)]).get()``
  from the main thread: make each node and proxy, hand it to the loop thread,
  run the coroutine there, settle it, and the caller's wait for all of them.
  Peer: inside ``loop.run_until_complete``, ``await asyncio.gather(*[noop()
  for _ in range(n)])``: make each coroutine, wrap it in a task, run it, and
  gather's done callback. Reported per task.
- **sleeping tasks**: the same with ``await asyncio.sleep(0.05)`` in the
  coroutine; wall time from the first call to the last result (ideal 0.05 s;
  on this machine asyncio itself needs several times that for 10,000 timers).

The CLI also prints the no-op as ``@pool.task`` calls (``AsyncList([task()
for _ in range(n)]).get()``: the decorator's path, which carries a task spec),
and, for scale: the same sleeps as threaded tasks doing
``time.sleep`` on 50 workers, and ``asyncio.run_coroutine_threadsafe`` from
the main thread (the asyncio way to hand coroutines to a loop in another
thread, which is what the caller of an asynckit task does).

Every figure is measured side by side in one process, alternating (asynckit,
peer, asynckit, peer, ...; in ``rows``, which side goes first alternates from
repeat to repeat), several repeats; rows give the median and the
range, and ratio = asynckit / peer of the medians. The load average is
printed: on a shared machine, compare ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asynckit  # noqa: E402
from bench.table import row  # noqa: E402

SLEEP = 0.05


async def nap() -> None:
    await asyncio.sleep(SLEEP)


async def noop() -> None:
    return None


class Sides:
    """One warm asynckit pool (its loop thread up) and one plain asyncio loop."""

    def __init__(self, ak: Any = asynckit) -> None:
        self.ak = ak
        self.pool = ak.Pool(worker_count=2, name="bench-async")
        self.pool.do(noop).get()  # start the loop thread outside the timing
        self.tasks = {noop: self.pool.task(noop)}  # the @pool.task line: no-op only
        self.plain = asyncio.new_event_loop()

    def close(self) -> None:
        self.pool.shutdown()
        self.plain.close()

    def ours(self, fn: Callable[[], Any], count: int) -> float:
        pool, gather = self.pool, self.ak.AsyncList
        gc.collect()
        began = time.perf_counter()
        gather([pool.do(fn) for _ in range(count)]).get()
        return time.perf_counter() - began

    def decorated(self, fn: Callable[[], Any], count: int) -> float:
        """``ours`` through ``@pool.task``: ``task()`` rather than ``pool.do(fn)``."""
        task, gather = self.tasks[fn], self.ak.AsyncList
        gc.collect()
        began = time.perf_counter()
        gather([task() for _ in range(count)]).get()
        return time.perf_counter() - began

    def peer(self, fn: Callable[[], Any], count: int) -> float:
        async def main() -> float:
            began = time.perf_counter()
            await asyncio.gather(*[fn() for _ in range(count)])
            return time.perf_counter() - began

        gc.collect()
        return self.plain.run_until_complete(main())

    def threadsafe(self, fn: Callable[[], Any], count: int) -> float:
        """run_coroutine_threadsafe onto the pool's own loop, from this thread."""
        loop = self.pool._loop().loop
        gc.collect()
        began = time.perf_counter()
        futures: list[Future[Any]] = [asyncio.run_coroutine_threadsafe(fn(), loop)
                                      for _ in range(count)]
        for future in futures:
            future.result()
        return time.perf_counter() - began


def rows(quick: bool) -> list[dict[str, Any]]:
    """The coroutine rows of ``python -m bench``: one dict per row, with
    ``name``, ``ours``, ``peer``, ``peer_name``, ``unit`` and ``target`` (the
    largest acceptable ours/peer), plus ``ours_range``/``peer_range`` (min, max)."""
    count = 2_000 if quick else 10_000
    repeats = 3 if quick else 11
    sides = Sides()
    noops: tuple[list[float], list[float]] = ([], [])
    naps: tuple[list[float], list[float]] = ([], [])
    try:
        for repeat in range(repeats):  # which side goes first alternates
            for times, fn in ((noops, noop), (naps, nap)):
                for side in ((0, 1) if repeat % 2 == 0 else (1, 0)):
                    run = sides.ours if side == 0 else sides.peer
                    times[side].append(run(fn, count))
    finally:
        sides.close()
    return [
        row(f"async def no-op task ({count:,})", *noops, "asyncio.gather",
            "µs/task", 1.2, 1e6 / count),
        row(f"{count:,} x asyncio.sleep({SLEEP}) tasks, wall", *naps, "asyncio.gather",
            "s", 1.2),
    ]


def threads_sleeping(count: int, workers: int) -> float:
    pool = asynckit.Pool(worker_count=workers, name="bench-threads")

    def nap_in_a_thread() -> None:
        time.sleep(SLEEP)

    began = time.perf_counter()
    asynckit.AsyncList([pool.do(nap_in_a_thread) for _ in range(count)]).get()
    took = time.perf_counter() - began
    pool.shutdown()
    return took


def _load(source: Path, alias: str, into: Path) -> Any:
    shutil.copytree(source / "asynckit", into / alias)  # as bench/ab.py does
    return importlib.import_module(alias)


def _fmt(values: list[float], scale: float, digits: int) -> str:
    return (f"{statistics.median(values) * scale:.{digits}f} "
            f"[{min(values) * scale:.{digits}f}-{max(values) * scale:.{digits}f}]")


def compare(base_dir: Path | None, quick: bool) -> None:
    """Print every side, alternating, with ranges (and a base checkout's asynckit)."""
    count = 2_000 if quick else 10_000
    repeats = 3 if quick else 7
    into = Path(tempfile.mkdtemp(prefix="asynckit-async-bench-"))
    sides = {"asynckit": Sides()}
    if base_dir is not None:
        sys.path.insert(0, str(into))
        sides["base"] = Sides(_load(base_dir, "ak_base", into))
    plain = sides["asynckit"]
    cases: dict[str, tuple[Callable[[], Any], float, int, str]] = {
        "no-op": (noop, 1e6 / count, 2, "us/task"),
        f"sleep({SLEEP})": (nap, 1.0, 3, "s wall")}
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(repeats):
            for case, (fn, _scale, _digits, _unit) in cases.items():
                for side in sides:
                    times.setdefault((case, side), []).append(sides[side].ours(fn, count))
                    if fn is noop:
                        times.setdefault((case, f"{side} @pool.task"), []).append(
                            sides[side].decorated(fn, count))
                times.setdefault((case, "asyncio.gather"), []).append(plain.peer(fn, count))
                times.setdefault((case, "run_coroutine_threadsafe"), []).append(
                    plain.threadsafe(fn, count))
    finally:
        for each in sides.values():
            each.close()
        shutil.rmtree(into, ignore_errors=True)
    load = os.getloadavg()
    print(f"{count:,} coroutines a run, {repeats} alternating repeats, median [min-max]; "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    names = [*sides, *(f"{side} @pool.task" for side in sides), "asyncio.gather",
             "run_coroutine_threadsafe"]
    for case, (_fn, scale, digits, unit) in cases.items():
        gather = statistics.median(times[(case, "asyncio.gather")])
        print(f"\n{case} ({unit})")
        for name in names:
            values = times.get((case, name))
            if values is None:  # @pool.task: the no-op only
                continue
            print(f"  {name:<26} {_fmt(values, scale, digits):<28} "
                  f"x{statistics.median(values) / gather:.2f} gather")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 tasks instead of 10,000, 3 repeats instead of 7")
    parser.add_argument("--base", type=Path, metavar="DIR",
                        help="also time the asynckit package of another checkout")
    options = parser.parse_args()
    compare(options.base, options.quick)
    count, workers = (2_000 if options.quick else 10_000), 50
    took = threads_sleeping(count, workers)
    print(f"\n{count:,} x time.sleep({SLEEP}) as threaded tasks on {workers} workers: "
          f"{took:.3f} s (ideal {count / workers * SLEEP:.3f} s)")


if __name__ == "__main__":
    main()
