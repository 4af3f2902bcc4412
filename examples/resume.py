"""A resumable run: stop it part-way (Ctrl-C, a crash, a kill), run it again,
and only the calls that had not finished run.

    python examples/resume.py --store results.db --log steps.log

runs 200 slow steps, each a ``@pool.task(cache=True)`` call that appends a
line to the log (its side effect), then sums their results. Interrupt it,
run the same command again: the rerun runs only the missing steps (count
the log's lines), and a third run runs nothing and reads one row, the sum.
With no arguments it shows this in one go, in a temporary directory: a
first run, then a rerun that finds everything in the store.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from asynckit import Pool

STEPS = 200


def run(store: Path, log: Path, delay: float, verbose: bool = True) -> int:
    with Pool(worker_count=4, store=store) as pool:
        lock = threading.Lock()

        @pool.task(cache=True)
        def simulate(i: int) -> int:
            time.sleep(delay)  # the work
            with lock, log.open("a") as out:  # the side effect: one line per call
                out.write(f"{i}\n")
            if verbose:
                print(f"step {i}", flush=True)
            return i * i

        @pool.task(cache=True)
        def summarize(results: list[int]) -> int:
            return sum(results)

        total = summarize(pool.map(simulate, range(STEPS)))
        print(f"total {total}", flush=True)
        stats = pool.store.statistics()  # type: ignore[union-attr]
        print(f"store: {stats['hits']} hits, {stats['reads']} rows read, "
              f"{stats['writes']} written", flush=True)
        return int(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="the result store (SQLite file)")
    parser.add_argument("--log", type=Path, help="the side-effect log, one line per step run")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds per step")
    options = parser.parse_args()
    if options.store is not None:
        run(options.store, options.log or options.store.with_suffix(".log"), options.delay)
        return
    with tempfile.TemporaryDirectory() as folder:
        store, log = Path(folder) / "results.db", Path(folder) / "steps.log"
        first = run(store, log, 0.001, verbose=False)
        ran = len(log.read_text().splitlines())
        second = run(store, log, 0.001, verbose=False)
        rerun = len(log.read_text().splitlines()) - ran
        print(f"first run: {ran} steps; rerun: {rerun} steps; same total: {first == second}")


if __name__ == "__main__":
    main()
