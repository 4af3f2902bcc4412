"""The Dask backend against raw ``client.submit`` on the same LocalCluster.

One cluster (2 worker processes, 1 thread each, on 127.0.0.1) serves both
sides; each repeat times ours, then the peer, on the same graph, and the
rows give medians and ranges. Before each timed case the cluster is let go
quiet (the scheduler holds no task: the previous case's releases, which
Dask processes after the call returns, are not counted in the next one),
and which side goes first alternates from repeat to repeat. Two graphs:

- fan-out: 200 independent tasks, then wait until all have finished
  (``pool.wait()`` / ``distributed.wait``); the results stay on the cluster;
- reduction: 200 tasks summed in 20 groups of 10, then the 20 sums into 1;
  only the final number comes here (``get()`` / ``result()``).

``python -m bench.dask_bench [--quick]`` prints the rows.
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

from bench.table import machine, print_table, row

FAN_OUT = 200
GROUPS = 20


def inc(x: int) -> int:
    return x + 1


def total(values: list[int]) -> int:
    return sum(values)


def _ours_fan_out(pool: Any) -> float:
    gc.collect()
    began = time.perf_counter()
    for n in range(FAN_OUT):
        pool.do(inc, n)
    pool.wait()
    return time.perf_counter() - began


def _peer_fan_out(client: Any) -> float:
    import distributed

    gc.collect()
    began = time.perf_counter()
    futures = [client.submit(inc, n, pure=False) for n in range(FAN_OUT)]
    distributed.wait(futures)
    took = time.perf_counter() - began
    del futures
    return took


def _ours_reduction(pool: Any) -> float:
    gc.collect()
    began = time.perf_counter()
    leaves = [pool.do(inc, n) for n in range(FAN_OUT)]
    size = FAN_OUT // GROUPS
    sums = [pool.do(total, leaves[i:i + size]) for i in range(0, FAN_OUT, size)]
    result = pool.do(total, sums).get()
    took = time.perf_counter() - began
    assert result == sum(range(1, FAN_OUT + 1)), result
    return took


def _peer_reduction(client: Any) -> float:
    gc.collect()
    began = time.perf_counter()
    leaves = [client.submit(inc, n, pure=False) for n in range(FAN_OUT)]
    size = FAN_OUT // GROUPS
    sums = [client.submit(total, leaves[i:i + size], pure=False)
            for i in range(0, FAN_OUT, size)]
    result = client.submit(total, sums, pure=False).result()
    took = time.perf_counter() - began
    assert result == sum(range(1, FAN_OUT + 1)), result
    return took


def _quiet(client: Any) -> None:
    """Until the scheduler holds no task (5 s at most): what the previous case
    released is processed before the next case is timed."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and client.run_on_scheduler(_task_count):
        time.sleep(0.005)  # a bench helper, between timed cases: not measured


def _task_count(dask_scheduler: Any) -> int:
    return len(dask_scheduler.tasks)


def rows(quick: bool) -> list[dict[str, Any]]:
    """The Dask rows: one dict per row, with ``name``, ``ours``, ``peer``,
    ``peer_name``, ``unit`` and ``target`` (the largest acceptable ours/peer),
    plus ``ours_range``/``peer_range`` (min, max)."""
    import distributed

    from asynckit import Pool

    repeats = 5 if quick else 11
    fan: tuple[list[float], list[float]] = ([], [])
    tree: tuple[list[float], list[float]] = ([], [])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pool = Pool(client=client, name="dask-bench")
        try:
            _ours_reduction(pool), _peer_reduction(client)  # warm up both sides
            cases = [(fan[0], _ours_fan_out, pool), (fan[1], _peer_fan_out, client),
                     (tree[0], _ours_reduction, pool), (tree[1], _peer_reduction, client)]
            for repeat in range(repeats):
                for pair in (cases[0:2], cases[2:4]):
                    for times, case, side in (pair if repeat % 2 == 0 else pair[::-1]):
                        _quiet(client)
                        times.append(case(side))
        finally:
            pool.shutdown()
    per_task = 1e3 / FAN_OUT
    return [
        row(f"dask: fan-out of {FAN_OUT}, wait for all", *fan, "client.submit",
            "ms/task", 1.05, per_task),
        row(f"dask: reduction {FAN_OUT} -> {GROUPS} -> 1", *tree, "client.submit",
            "ms/leaf", 1.05, per_task),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 repeats instead of 11")
    options = parser.parse_args()
    print_table([("dask", rows(options.quick))], machine())


if __name__ == "__main__":
    main()
