"""Peak memory of a 1,000,000-item ``pool.map``: streamed (``buffersize``) against eager.

Run ``python bench/map_memory.py`` (``--items N``, ``--buffersize B``). Each
case runs in its own fresh interpreter and reports its peak resident set
size (``ru_maxrss``): a bare interpreter that imports asynckit and starts its
pool (the floor), ``for x in pool.map(fn, items)`` (every call submitted at
once: the pool holds a record, a proxy and an argument tuple per call), and
the same with ``buffersize=B`` (at most B calls in flight; the input, a
generator, is read as results are taken). The growth over the floor is what
the map itself costs.
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
kind, items, buffersize, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
import asynckit

def work(line):
    return len(line)

def lines():
    for i in range(items):
        yield f"https://example.org/page/{{i}}"

pool = asynckit.Pool(workers)
pool.do(abs, 1).get()
start = time.perf_counter()
total = 0
if kind == "eager":
    for size in pool.map(work, lines()):
        total += size
elif kind == "streamed":
    for size in pool.map(work, lines(), buffersize=buffersize):
        total += size
elapsed = time.perf_counter() - start
pool.shutdown()
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(peak_kib, elapsed)
"""


def run(kind: str, items: int, buffersize: int) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), kind,
                           str(items), str(buffersize), str(WORKERS)],
                          capture_output=True, text=True, check=True)
    peak_kib, elapsed = done.stdout.split()
    return int(peak_kib) / 1024, float(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--buffersize", type=int, default=1000)
    options = parser.parse_args()
    floor, _ = run("floor", options.items, options.buffersize)
    print(f"{options.items:,}-item pool.map of len() over a generator of urls, "
          f"{WORKERS} workers; peak RSS of a fresh interpreter, and its growth over one "
          f"that imports asynckit and starts the pool (the floor: {floor:.1f} MiB)")
    for kind, label in (("eager", "eager (every call submitted at once)"),
                        ("streamed", f"streamed (buffersize={options.buffersize})")):
        peak, elapsed = run(kind, options.items, options.buffersize)
        print(f"  {label:<40} {peak:7.1f} MiB peak {peak - floor:7.1f} MiB growth "
              f"{elapsed:6.1f} s")


if __name__ == "__main__":
    main()
