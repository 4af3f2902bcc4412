"""Draw docs/graph.png: the README's tour, as asynckit.to_dot sees it.

Run from the repository root with Graphviz installed::

    python docs/make_graph.py
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import asynckit
from asynckit import Pool

pool = Pool(worker_count=4)


@pool.task(limit=2)
def download(url: str) -> bytes:
    return f"<html>{url} ".encode() * 100  # stands in for urlopen(url).read()


@pool.task
def count_words(page: bytes) -> int:
    return len(page.split())


@pool.task
def total(counts: list[int]) -> int:
    return sum(counts)


def main() -> None:
    urls = [f"https://example.org/{n}" for n in range(4)]
    pages = [download(u) for u in urls]
    t = total([count_words(p) for p in pages])
    print(t + 1)
    pool.wait()
    dot = asynckit.to_dot(t)
    out = Path(__file__).resolve().parent / "graph.png"
    subprocess.run(["dot", "-Tpng", "-Gdpi=110", "-o", str(out)], input=dot, text=True,
                   check=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
