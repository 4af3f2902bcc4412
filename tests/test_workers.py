"""Worker threads' lifetime: a dropped pool lets them go; a dying worker is replaced.

As CPython's ``concurrent.futures.thread`` (``test_del_shutdown``): workers
hold their queue strongly and their pool only weakly.
"""

from __future__ import annotations

import gc
import logging
import threading
from typing import Any

import pytest

import asynckit
from asynckit import Pool
from asynckit.backends import threads


def _workers_of(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{name}-worker-")]


@pytest.mark.timeout(30)
def test_a_dropped_pool_lets_its_worker_threads_go() -> None:
    pool = Pool(4)
    everyone = threading.Barrier(4, timeout=10)  # proves all four threads ran at once
    values = [pool.do(everyone.wait) for _ in range(4)]
    assert pool.wait(10)
    assert sorted(value.get() for value in values) == [0, 1, 2, 3]
    workers = _workers_of(pool.name)
    assert len(workers) == 4
    del pool, values
    gc.collect()
    for worker in workers:
        worker.join(10)
        assert not worker.is_alive(), f"{worker.name} outlived its dropped pool"


@pytest.mark.timeout(30)
def test_work_pending_in_a_dropped_pool_still_finishes() -> None:
    pool = Pool(2)
    gate = threading.Event()
    first = pool.do(gate.wait, 10)
    second = pool.do(lambda ok: "done" if ok else "late", first)
    name = pool.name
    del pool
    gc.collect()
    gate.set()
    assert second.get(10) == "done"  # the nodes held their pool until they ran
    del first, second
    gc.collect()
    for worker in _workers_of(name):
        worker.join(10)
        assert not worker.is_alive()


@pytest.mark.timeout(30)
def test_a_worker_that_dies_of_an_asynckit_bug_is_logged_and_replaced(
        monkeypatch: Any, caplog: Any) -> None:
    # An error escaping the worker loop itself (a bug, MemoryError), not a
    # task's: the task it was running fails with it, the death is logged as
    # CRITICAL naming the task, and the pool's one worker is replaced.
    real = threads.execute
    broken = threading.Event()

    def execute_once_broken(node: Any, worker: Any = None) -> Any:
        if not broken.is_set():
            broken.set()
            raise MemoryError("simulated")
        return real(node, worker)

    monkeypatch.setattr(threads, "execute", execute_once_broken)
    pool = Pool(1)
    try:
        with caplog.at_level(logging.CRITICAL, logger="asynckit"):
            first = pool.do(abs, -1)
            with pytest.raises(MemoryError, match="simulated"):
                first.get(10)
            assert pool.do(abs, -2).get(10) == 2  # a new worker took its place
        assert any(record.levelno == logging.CRITICAL and "abs(-1)" in record.getMessage()
                   for record in caplog.records), caplog.text
        assert pool.statistics()["threads"] <= 1
    finally:
        pool.shutdown()


@pytest.mark.timeout(30)
def test_a_waited_for_result_is_published_once(monkeypatch: Any, pool: Pool) -> None:
    # The settle's fast path publishes the result, then hands a node with a
    # waiting thread (or a chain edge, or a callback) to the general path:
    # that must not publish it a second time.
    # wrapt calls __wrapped_setattr_fixups__ after each assignment to
    # __wrapped__ (the publish): count them there.
    published: list[Any] = []

    def counting(proxy: Any) -> tuple[()]:
        published.append(proxy.__wrapped__)
        return ()

    monkeypatch.setattr(asynckit.AsyncValue, "__wrapped_setattr_fixups__", counting)
    gate = threading.Event()
    waited = pool.do(lambda: gate.wait(10) and "waited")
    chained = pool.do(lambda: gate.wait(10) and "chained")
    called = pool.do(lambda: gate.wait(10) and "called")
    after = chained.chain(abs, -1)
    heard = threading.Event()
    asynckit.future(called).add_done_callback(lambda _: heard.set())
    waiter = threading.Thread(target=waited.get)
    waiter.start()
    while waited._self_task.dependents is None:  # the waiter has not registered yet
        threading.Event().wait(0.001)
    gate.set()
    waiter.join(10)
    assert (waited.get(), chained.get(), after.get(), called.get()) == (
        "waited", "chained", 1, "called")
    assert heard.wait(10)
    assert sorted(p for p in published if isinstance(p, str)) == ["called", "chained", "waited"]
