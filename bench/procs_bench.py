"""The processes backend beside ``ProcessPoolExecutor`` and ``multiprocessing.Pool``.

Run ``python -m bench.procs_bench`` (``--quick``: fewer calls and repeats).
``rows(quick)`` gives the rows, in the shape of ``bench/async_bench.py``.

Every side uses 2 worker processes and the backend's start method
(forkserver here), and is measured in the same process, alternating
(asynckit, peer, asynckit, peer, ...), several repeats; rows give the
median and the range, ratio = asynckit / peer of the medians. What each
row times:

- **tiny do+get**: ``[pool.do(tiny, i) for i in range(n)]`` then every
  ``get()``, on a warm pool; peer: ``submit`` then every ``result()``.
- **map chunksize=250**: ``list(pool.map(tiny, xs, chunksize=250))`` vs
  ``ProcessPoolExecutor.map(tiny, xs, chunksize=250)``, warm.
- **map default**: ``list(pool.map(tiny, xs))`` vs ``multiprocessing.Pool.map``
  (which picks its chunks itself), warm.
- **64 x 50 ms CPU**: 64 calls that each spin for 50 ms; *cold* makes the
  pool, runs them and shuts it down; *warm* reuses a started pool.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import importlib
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

import asynckit
from asynckit.backends.executor import start_method
from bench.table import machine, print_table, row

WORKERS = 2
SPIN = 0.05


def tiny(x: int) -> int:
    return x + 1


def spin(seconds: float) -> float:
    """CPU-bound for ``seconds`` (a busy loop, no sleep)."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return seconds


def _timed(work: Callable[[], object]) -> float:
    gc.collect()
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def _alternate(ours: Callable[[], object], peer: Callable[[], object],
               repeats: int) -> tuple[list[float], list[float]]:
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        mine.append(_timed(ours))
        theirs.append(_timed(peer))
    return mine, theirs


def _context() -> Any:
    return multiprocessing.get_context(start_method())


def _cold_ours(count: int) -> None:
    pool = asynckit.Pool(WORKERS, backend="processes", name="bench-cold")
    values = [pool.do(spin, SPIN) for _ in range(count)]
    for value in values:
        value.get()
    pool.shutdown()


def _cold_peer(count: int) -> None:
    with concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=_context()) as executor:
        futures = [executor.submit(spin, SPIN) for _ in range(count)]
        for future in futures:
            future.result()


def rows(quick: bool) -> list[dict[str, Any]]:
    """The processes rows: one dict per row (see ``bench/async_bench.py``)."""
    calls = 2_000 if quick else 5_000
    items = 20_000 if quick else 100_000
    repeats = 3 if quick else 5
    spins = 64
    pool = asynckit.Pool(WORKERS, backend="processes", name="bench-procs")
    executor = concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=_context())
    mp_pool = _context().Pool(WORKERS)
    xs = list(range(items))
    try:
        # Warm every side: processes started, modules imported.
        pool.map(tiny, range(100)).get()
        list(executor.map(tiny, range(100)))
        mp_pool.map(tiny, range(100))

        def ours_calls() -> None:
            values = [pool.do(tiny, i) for i in range(calls)]
            for value in values:
                value.get()

        def peer_calls() -> None:
            futures = [executor.submit(tiny, i) for i in range(calls)]
            for future in futures:
                future.result()

        tiny_calls = _alternate(ours_calls, peer_calls, repeats)
        chunked = _alternate(lambda: list(pool.map(tiny, xs, chunksize=250)),
                             lambda: list(executor.map(tiny, xs, chunksize=250)), repeats)
        default = _alternate(lambda: list(pool.map(tiny, xs)),
                             lambda: mp_pool.map(tiny, xs), repeats)

        def ours_spins() -> None:
            values = [pool.do(spin, SPIN) for _ in range(spins)]
            for value in values:
                value.get()

        def peer_spins() -> None:
            for future in [executor.submit(spin, SPIN) for _ in range(spins)]:
                future.result()

        warm = _alternate(ours_spins, peer_spins, repeats)
    finally:
        pool.shutdown()
        executor.shutdown()
        mp_pool.terminate()
    cold = _alternate(lambda: _cold_ours(spins), lambda: _cold_peer(spins), repeats)
    return [
        row(f"processes: {calls:,} tiny do+get", *tiny_calls, "PPE submit+result",
             "us/task", 1.0, 1e6 / calls),
        row(f"processes: map chunksize=250 ({items:,})", *chunked, "PPE.map chunksize=250",
             "us/item", 1.1, 1e6 / items),
        row(f"processes: map default ({items:,})", *default, "multiprocessing.Pool.map",
             "us/item", 1.1, 1e6 / items),
        row(f"processes: {spins} x {SPIN * 1000:g} ms CPU, cold", *cold, "PPE", "s", 1.02),
        row(f"processes: {spins} x {SPIN * 1000:g} ms CPU, warm", *warm, "PPE", "s", 1.02),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repeats")
    options = parser.parse_args()
    # Worker processes find the functions by module name: use this module
    # under its importable name, not as __main__.
    me = importlib.import_module("bench.procs_bench")
    print_table([("processes", me.rows(options.quick))], machine())


if __name__ == "__main__":
    main()
