"""``python -m bench``: every backend beside the engine it wraps, in one table.

``python -m bench [--quick] [--json [FILE]] [--only SECTION,...]``. Sections:
``threads`` (this module: ThreadPoolExecutor and dask.delayed, one process),
``async`` (bench/async_bench.py: asyncio.gather), ``processes``
(bench/procs_bench.py: ProcessPoolExecutor and multiprocessing.Pool),
``dask`` (bench/dask_bench.py: raw ``client.submit`` on one LocalCluster),
``scrape`` (bench/scrape_bench.py: time limits and rates against a local
HTTP server). Every figure is the median of alternating repeats (asynckit,
peer, asynckit, peer, ...) so that drift on a shared machine hits both
alike, shown with its range; ratio = asynckit / peer, below 1 means asynckit
costs less, and each row names its target (bench/table.py). ``--quick``
runs fewer repeats and smaller counts: for a smoke test, not for figures.
"""

from __future__ import annotations

import argparse
import gc
import importlib
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
from bench.table import Row, dump_json, machine, print_table, row  # noqa: E402

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


def compare(cases: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each case, one per repeat, the cases alternating within each repeat."""
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            runs[name].append(timed(case))
    return runs


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


def rows(quick: bool) -> list[Row]:
    """The threads rows (targets: issue 16, held through the engine re-layout)."""
    repeats = 3 if quick else 7
    out: list[Row] = []

    def per(what: str, ours: list[float], theirs: list[float], peer: str, count: int,
            target: float | None, unit: str = "µs/task") -> None:
        out.append(row(what, ours, theirs, peer, unit, target, 1e6 / count))

    r = compare(fanout_cases(), repeats)
    per("fan-out do+get", r["asynckit do"], r["TPE"], "TPE", FANOUT, 0.25)
    per("fan-out @task+get", r["asynckit @task"], r["TPE"], "TPE", FANOUT, 0.3)
    if "dask.delayed" in r:
        per("fan-out do+get", r["asynckit do"], r["dask.delayed"], "dask", FANOUT, None)
    r = compare(map_cases(), repeats)
    per("map", r["asynckit map"], r["TPE map"], "TPE", FANOUT, 0.25)
    r = compare(chain_cases(), repeats)
    per("chain", r["asynckit chain"], r["TPE wait each"], "TPE wait", CHAIN, 0.15, "µs/step")
    per("chain", r["asynckit chain"], r["TPE callbacks"], "TPE callbacks", CHAIN, 1.0,
        "µs/step")
    if "dask.delayed" in r:
        per("chain", r["asynckit chain"], r["dask.delayed"], "dask", CHAIN, None, "µs/step")
    r = compare(tree_cases(), repeats)
    nodes = 2 * LEAVES - 1
    per("tree 4096", r["asynckit tree"], r["TPE levels"], "TPE", nodes, None, "µs/node")
    if "dask.delayed" in r:
        per("tree 4096", r["asynckit tree"], r["dask.delayed"], "dask", nodes, 0.03, "µs/node")
    bare_times.clear()
    r = compare(io_cases(), repeats)
    # Efficiency >= 0.99x the bare threads' is wall time <= 1/0.99 of theirs.
    out.append(row("I/O 400 x 10 ms, 50 workers (wall)", r["asynckit I/O"], bare_times,
                   "50 bare threads", "ms", round(1 / 0.99, 4), 1e3))
    out.append(row("  (TPE, the same I/O)", r["TPE I/O"], bare_times, "50 bare threads",
                   "ms", None, 1e3))
    per_task = [bytes_per_pending_task(20_000 if quick else 100_000)]
    out.append(row("memory per pending task", per_task, [800], "limit", "B", 1.0))
    ours, theirs = attribute_access()
    out.append(row("settled attribute", [ours], [theirs], "wrapt", "µs", 1.2, 1e6))
    ours_us, _wrapt_us, heavy = import_cost()
    name = "import asynckit beyond wrapt" + (" (dask/tqdm imported!)" if heavy else "")
    out.append(row(name, [ours_us / 1000], [5.0], "limit", "ms",
                   0.0 if heavy else 1.0))
    return out


#: Section name -> module with ``rows(quick) -> list[Row]``, in table order.
SECTIONS = {"threads": "bench.run", "async": "bench.async_bench",
            "processes": "bench.procs_bench", "dask": "bench.dask_bench",
            "scrape": "bench.scrape_bench"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats, smaller counts (a smoke test, not figures)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write the rows as JSON to FILE (or, with no FILE, "
                             "instead of the table to standard output)")
    parser.add_argument("--only", metavar="SECTION,...",
                        help=f"run only these sections, of: {', '.join(SECTIONS)}")
    options = parser.parse_args(argv)
    chosen = list(SECTIONS) if options.only is None else options.only.split(",")
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"no section {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    header = machine()
    sections = [(name, importlib.import_module(SECTIONS[name]).rows(options.quick))
                for name in chosen]
    if options.json != "-":
        print_table(sections, header)
    if options.json == "-":
        dump_json(sections, header, sys.stdout)
    elif options.json is not None:
        with open(options.json, "w", encoding="utf-8") as out:
            dump_json(sections, header, out)


if __name__ == "__main__":
    main()
