"""asynckit beside concurrent.futures.ThreadPoolExecutor (and dask.delayed), one process.

Run ``python -m bench`` (or ``python bench/run.py``; ``--quick`` for fewer
repeats). Every figure is the median of alternating repeats (asynckit, peer,
asynckit, peer, …) so that drift on a shared machine hits both alike; the
ratio column is asynckit / peer (below 1 means asynckit is faster).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import wrapt  # noqa: E402

import asynckit  # noqa: E402

try:
    import dask  # noqa: F401
    from dask import delayed
except ImportError:  # pragma: no cover - dask is optional
    delayed = None

WORKERS = 4
FANOUT = 20_000
CHAIN = 2_000
LEAVES = 4_096


def noop(x: object = None) -> object:
    return x


def add(a: int, b: int) -> int:
    return a + b


def inc(x: int) -> int:
    return x + 1


def timed(fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(cases: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each case, the cases alternating within each repeat."""
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            runs[name].append(timed(case))
    return {name: statistics.median(times) for name, times in runs.items()}


# -- the shapes of work ---------------------------------------------------------


def fanout_cases() -> dict[str, Callable[[], object]]:
    pool = asynckit.Pool(WORKERS)
    tpe = ThreadPoolExecutor(WORKERS)
    task = pool.task(noop)

    def ak_do() -> None:
        values = [pool.do(noop, i) for i in range(FANOUT)]
        for v in values:
            v.get()

    def ak_task() -> None:
        values = [task(i) for i in range(FANOUT)]
        for v in values:
            v.get()

    def tpe_submit() -> None:
        futures = [tpe.submit(noop, i) for i in range(FANOUT)]
        for f in futures:
            f.result()

    cases = {"asynckit do": ak_do, "asynckit @task": ak_task, "TPE": tpe_submit}
    if delayed is not None:
        def dask_fanout() -> None:
            import dask

            dask.compute(*[delayed(noop)(i) for i in range(FANOUT)],
                         scheduler="threads", num_workers=WORKERS)

        cases["dask.delayed"] = dask_fanout
    return cases


def map_cases() -> dict[str, Callable[[], object]]:
    pool = asynckit.Pool(WORKERS)
    tpe = ThreadPoolExecutor(WORKERS)
    return {
        "asynckit map": lambda: list(pool.map(noop, range(FANOUT))),
        "TPE map": lambda: list(tpe.map(noop, range(FANOUT))),
    }


def chain_cases() -> dict[str, Callable[[], object]]:
    pool = asynckit.Pool(WORKERS)
    tpe = ThreadPoolExecutor(WORKERS)

    def ak_chain() -> None:
        v = pool.do(inc, 0)
        for _ in range(CHAIN - 1):
            v = pool.do(inc, v)
        assert v.get() == CHAIN

    def tpe_wait_each() -> None:
        x = 0
        for _ in range(CHAIN):
            x = tpe.submit(inc, x).result()
        assert x == CHAIN

    def tpe_callbacks() -> None:
        import threading

        done = threading.Event()
        state = {"left": CHAIN}

        def step(future: object) -> None:
            x = future.result()  # type: ignore[attr-defined]
            state["left"] -= 1
            if state["left"]:
                tpe.submit(inc, x).add_done_callback(step)
            else:
                state["x"] = x
                done.set()

        tpe.submit(inc, 0).add_done_callback(step)
        done.wait()
        assert state["x"] == CHAIN

    cases = {"asynckit chain": ak_chain, "TPE wait each": tpe_wait_each,
             "TPE callbacks": tpe_callbacks}
    if delayed is not None:
        def dask_chain() -> None:
            import dask

            v = delayed(inc)(0)
            for _ in range(CHAIN - 1):
                v = delayed(inc)(v)
            assert dask.compute(v, scheduler="threads", num_workers=WORKERS)[0] == CHAIN

        cases["dask.delayed"] = dask_chain
    return cases


def tree_cases() -> dict[str, Callable[[], object]]:
    pool = asynckit.Pool(WORKERS)
    tpe = ThreadPoolExecutor(WORKERS)
    expected = LEAVES * (LEAVES - 1) // 2

    def ak_tree() -> None:
        level: list[object] = [pool.do(noop, i) for i in range(LEAVES)]
        while len(level) > 1:
            level = [pool.do(add, level[i], level[i + 1]) for i in range(0, len(level), 2)]
        assert level[0] == expected

    def tpe_levels() -> None:
        level = [f.result() for f in [tpe.submit(noop, i) for i in range(LEAVES)]]
        while len(level) > 1:
            futures = [tpe.submit(add, level[i], level[i + 1]) for i in range(0, len(level), 2)]
            level = [f.result() for f in futures]
        assert level[0] == expected

    cases = {"asynckit tree": ak_tree, "TPE levels": tpe_levels}
    if delayed is not None:
        def dask_tree() -> None:
            import dask

            level = [delayed(noop)(i) for i in range(LEAVES)]
            while len(level) > 1:
                level = [delayed(add)(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            assert dask.compute(level[0], scheduler="threads",
                                num_workers=WORKERS)[0] == expected

        cases["dask.delayed"] = dask_tree
    return cases


def io_cases() -> dict[str, Callable[[], object]]:
    pool = asynckit.Pool(50)
    tpe = ThreadPoolExecutor(50)

    def ak_io() -> None:
        values = [pool.do(time.sleep, 0.01) for _ in range(400)]
        for v in values:
            v.wait()

    def tpe_io() -> None:
        for f in [tpe.submit(time.sleep, 0.01) for _ in range(400)]:
            f.result()

    def bare_threads() -> None:
        # The floor on this machine: 50 plain threads, 8 sleeps each, no pool
        # at all (thread start-up not counted: they wait on an Event first).
        import threading

        go = threading.Event()

        def sleeper() -> None:
            go.wait()
            for _ in range(400 // 50):
                time.sleep(0.01)

        threads = [threading.Thread(target=sleeper) for _ in range(50)]
        for t in threads:
            t.start()
        started = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        bare_times.append(time.perf_counter() - started)

    return {"asynckit I/O": ak_io, "TPE I/O": tpe_io, "bare threads": bare_threads}


bare_times: list[float] = []  # the bare threads' own measure, without their start-up


# -- single measurements ---------------------------------------------------------


def bytes_per_pending_task(count: int = 100_000) -> float:
    import threading

    pool = asynckit.Pool(WORKERS)
    gate = threading.Event()
    root = pool.do(gate.wait)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    values = [pool.do(noop, root) for _ in range(count)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    gate.set()
    for v in values:
        v.wait()
    return (after - before) / count


def attribute_access() -> tuple[float, float]:
    import timeit

    class Thing:
        attr = 1

    pool = asynckit.Pool(1)
    value = pool.do(Thing)
    value.wait()
    bare = wrapt.ObjectProxy(Thing())
    ours = min(timeit.repeat(lambda: value.attr, number=200_000, repeat=5))
    theirs = min(timeit.repeat(lambda: bare.attr, number=200_000, repeat=5))
    return ours / 200_000, theirs / 200_000


def import_cost() -> tuple[float, float, bool]:
    """Microseconds of `import asynckit` in a process that has imported wrapt,
    the microseconds of `import wrapt` itself, and whether dask/tqdm came along."""
    code = ("import wrapt, asynckit, sys; print(any(m.split('.')[0] in "
            "('dask', 'distributed', 'tqdm') for m in sys.modules))")
    # Measure what users get: bytecode cached (a first run writes it, even
    # where the environment says not to).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", "import asynckit"], env=env, cwd=root, check=True)
    samples = []
    heavy = False
    for _ in range(7):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                              capture_output=True, text=True, check=True, env=env, cwd=root)
        heavy = heavy or done.stdout.strip() == "True"
        cumulative = {}
        for line in done.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                cumulative[parts[2].strip()] = int(parts[1])
        samples.append((cumulative.get("asynckit", 0), cumulative.get("wrapt", 0)))
    ours = statistics.median(s[0] for s in samples)
    wrapt_part = statistics.median(s[1] for s in samples)
    return ours, wrapt_part, heavy


# -- report ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    options = parser.parse_args()
    repeats = 3 if options.quick else options.repeats

    rows: list[tuple[str, str, str, str]] = []

    def row(what: str, ours: float, theirs: float, peer: str, unit: str = "µs/task",
            scale: float = 1e6) -> None:
        rows.append((what, f"{ours * scale:.2f} {unit}", f"{peer} {theirs * scale:.2f}",
                     f"{ours / theirs:.3f}"))

    r = compare(fanout_cases(), repeats)
    row("fan-out do+get", r["asynckit do"] / FANOUT, r["TPE"] / FANOUT, "TPE")
    row("fan-out @task+get", r["asynckit @task"] / FANOUT, r["TPE"] / FANOUT, "TPE")
    if "dask.delayed" in r:
        row("fan-out do+get", r["asynckit do"] / FANOUT, r["dask.delayed"] / FANOUT, "dask")

    r = compare(map_cases(), repeats)
    row("map", r["asynckit map"] / FANOUT, r["TPE map"] / FANOUT, "TPE")

    r = compare(chain_cases(), repeats)
    row("chain", r["asynckit chain"] / CHAIN, r["TPE wait each"] / CHAIN, "TPE wait", "µs/step")
    row("chain", r["asynckit chain"] / CHAIN, r["TPE callbacks"] / CHAIN, "TPE cb", "µs/step")
    if "dask.delayed" in r:
        row("chain", r["asynckit chain"] / CHAIN, r["dask.delayed"] / CHAIN, "dask", "µs/step")

    r = compare(tree_cases(), repeats)
    nodes = 2 * LEAVES - 1
    row("tree 4096", r["asynckit tree"] / nodes, r["TPE levels"] / nodes, "TPE")
    if "dask.delayed" in r:
        row("tree 4096", r["asynckit tree"] / nodes, r["dask.delayed"] / nodes, "dask")

    r = compare(io_cases(), repeats)
    ideal = 400 * 0.01 / 50
    rows.append(("I/O 400x10ms, 50 workers", f"efficiency {ideal / r['asynckit I/O']:.3f}",
                 f"TPE {ideal / r['TPE I/O']:.3f}", f"{r['asynckit I/O'] / r['TPE I/O']:.3f}"))
    bare = statistics.median(bare_times)
    rows.append(("I/O, 50 bare threads", f"efficiency {ideal / bare:.3f}",
                 "(the machine's floor)", f"{r['asynckit I/O'] / bare:.3f}"))

    per_task = bytes_per_pending_task()
    rows.append(("bytes per pending task", f"{per_task:.0f} B", "target 800",
                 f"{per_task / 800:.3f}"))

    ours, theirs = attribute_access()
    row("settled attribute", ours, theirs, "wrapt", "µs")

    ours, wrapt_part, heavy = import_cost()
    rows.append(("import asynckit", f"{ours / 1000:.1f} ms beyond wrapt",
                 f"wrapt {wrapt_part / 1000:.1f} ms", "dask/tqdm imported!" if heavy else "-"))

    width = [max(len(r[i]) for r in rows + [("what", "asynckit", "peer", "ratio")])
             for i in range(4)]
    header = ("what", "asynckit", "peer", "ratio")
    print(f"asynckit bench, {WORKERS} workers, median of {repeats}, Python "
          f"{sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    for line in [header] + rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, width, strict=False)))


if __name__ == "__main__":
    main()
