"""A/B: two versions of asynckit in one process, alternating, on the hot-path shapes.

``python bench/ab.py BASE_DIR [NEW_DIR]`` where each directory holds an
``asynckit`` package (NEW_DIR defaults to this checkout). Each is copied under
another name (all of asynckit's imports are relative), both are imported in
this process, and each shape runs base, new, base, new, ... so that drift on a
shared machine hits both alike. Prints medians and minimums in µs per task
and the ratio new/base of the medians. A change to the hot path (submit ->
run -> settle) comes with this table in its note.
"""

from __future__ import annotations

import gc
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORKERS = 4
FANOUT = 20_000
CHAIN = 2_000
LEAVES = 4_096


def load(source: Path, alias: str, into: Path) -> Any:
    shutil.copytree(source / "asynckit", into / alias)
    return importlib.import_module(alias)


def inc(x: int) -> int:
    return x + 1


def shapes(ak: Any) -> dict[str, tuple[Callable[[], object], int]]:
    def fanout_def() -> None:
        with ak.Pool(WORKERS) as pool:
            values = [pool.do(inc, i) for i in range(FANOUT)]
            for value in values:
                value.get()

    def chain_def() -> None:
        with ak.Pool(WORKERS) as pool:
            value = pool.do(inc, 0)
            for _ in range(CHAIN):
                value = pool.do(inc, value)
            value.get()

    def fanout() -> None:
        with ak.Pool(WORKERS) as pool:
            values = [pool.do(abs, i) for i in range(FANOUT)]
            for value in values:
                value.get()

    def mapped() -> None:
        with ak.Pool(WORKERS) as pool:
            list(pool.map(abs, range(FANOUT)))

    def chain() -> None:
        with ak.Pool(WORKERS) as pool:
            value = pool.do(abs, 0)
            for _ in range(CHAIN):
                value = pool.do(abs, value)
            value.get()

    def tree() -> None:
        with ak.Pool(WORKERS) as pool:
            level = [pool.do(abs, i) for i in range(LEAVES)]
            while len(level) > 1:
                level = [pool.do(max, level[i], level[i + 1]) for i in range(0, len(level), 2)]
            level[0].get()

    return {"fan-out do+get": (fanout, FANOUT), "fan-out (def)": (fanout_def, FANOUT),
            "map": (mapped, FANOUT), "chain": (chain, CHAIN), "chain (def)": (chain_def, CHAIN),
            "tree 4096": (tree, 2 * LEAVES - 1)}


def main() -> None:
    base_dir = Path(sys.argv[1]).resolve()
    new_dir = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else \
        Path(__file__).resolve().parent.parent
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 9
    into = Path(tempfile.mkdtemp(prefix="asynckit-ab-"))
    sys.path.insert(0, str(into))
    versions = {"base": shapes(load(base_dir, "ak_base", into)),
                "new": shapes(load(new_dir, "ak_new", into))}
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for shape in versions["base"]:
            for version in ("base", "new"):
                run, count = versions[version][shape]
                gc.collect()
                started = time.perf_counter()
                run()
                times.setdefault((shape, version), []).append(
                    (time.perf_counter() - started) / count * 1e6)
    print(f"A/B, {WORKERS} workers, {repeats} alternating repeats, µs per task, "
          f"Python {sys.version.split()[0]}")
    print(f"{'shape':<16} {'base median':>12} {'new median':>11} {'base min':>9} "
          f"{'new min':>8} {'new/base':>9}")
    for shape in versions["base"]:
        base, new = times[(shape, "base")], times[(shape, "new")]
        print(f"{shape:<16} {statistics.median(base):>12.2f} {statistics.median(new):>11.2f} "
              f"{min(base):>9.2f} {min(new):>8.2f} "
              f"{statistics.median(new) / statistics.median(base):>9.3f}")
    shutil.rmtree(into, ignore_errors=True)


if __name__ == "__main__":
    main()
