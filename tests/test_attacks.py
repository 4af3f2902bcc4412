"""Attacks that broke the engine once: cycles, deep nesting, long chains, hostile
callbacks, hostile input, dropped pools of every backend (issue 18).

The Ctrl-C and exit attacks need real subprocesses and signals: see test_exit.py.
"""

from __future__ import annotations

import gc
import logging
import math
import pickle
import threading
import weakref
from typing import Any

import pytest

import asynckit
from asynckit import AsyncList, Pool

# -- cycles -------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_task_that_returns_its_own_value_fails_and_the_pool_drains(pool: Pool) -> None:
    gate = threading.Event()
    holder: dict[str, Any] = {}
    holder["v"] = value = pool.do(lambda: (gate.wait(10), holder["v"])[1])
    gate.set()
    with pytest.raises(RuntimeError, match="its own result"):
        value.get(10)
    assert pool.wait(10)


@pytest.mark.timeout(30)
def test_two_tasks_that_return_each_other_fail_with_the_cycle() -> None:
    pool = Pool(1)  # one worker: `first` has returned (and follows `second`) before `second` runs
    try:
        holder: dict[str, Any] = {}
        made = threading.Event()
        first = pool.do(lambda: (made.wait(10), holder["second"])[1])
        holder["second"] = second = pool.do(lambda: first)
        made.set()
        for value in (first, second):
            with pytest.raises(RuntimeError, match="its own result"):
                value.get(10)
        assert pool.wait(10)
    finally:
        pool.shutdown()


@pytest.mark.timeout(30)
def test_the_late_binding_closure_cycle_fails_every_value(pool: Pool) -> None:
    gate = threading.Event()
    pool.do(gate.wait, 10)
    values = []
    prev = pool.do(abs, -1)
    for _ in range(5):
        prev = pool.do(lambda: (gate.wait(10), prev)[1])  # noqa: B023 - the point
        values.append(prev)
    gate.set()  # every lambda now returns the last value: the last returns itself
    for value in values:
        with pytest.raises(RuntimeError, match="its own result"):
            value.get(10)
    assert pool.wait(10)


# -- deep and long ----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_asynclists_nested_a_thousand_deep_settle(pool: Pool) -> None:
    gate = threading.Event()
    value: Any = pool.do(gate.wait, 10)
    for _ in range(1000):
        value = AsyncList([value])
    gate.set()
    result = value.get(20)
    for _ in range(1000):
        assert len(result) == 1
        result = result[0]
    assert result is True


@pytest.mark.timeout(60)
def test_a_long_pending_chain_is_described_drawn_and_cancelled_in_linear_time() -> None:
    pool = Pool(1)
    gate = threading.Event()
    try:
        first = pool.do(gate.wait, 30)
        value = first
        for _ in range(20_000):
            value = pool.do(abs, value)
        # A value's description names its inputs, never theirs in turn.
        assert repr(value).count("<") == 2, repr(value)
        assert asynckit.to_dot(value).count("->") == 20_000
        pool.shutdown(wait=False, cancel_futures=True)
        assert asynckit.state(value) == "cancelled"
    finally:
        gate.set()
        pool.shutdown()


# -- hostile callbacks and input ---------------------------------------------------------


@pytest.mark.timeout(30)
def test_a_done_callback_raising_systemexit_does_not_kill_the_worker(caplog: Any) -> None:
    pool = Pool(1)
    try:
        worker = pool.do(threading.get_ident).get(10)

        def leave(_: Any) -> None:
            raise SystemExit(3)

        gate = threading.Event()
        future = pool.submit(gate.wait, 10)
        future.add_done_callback(leave)
        with caplog.at_level(logging.ERROR, logger="asynckit"):
            gate.set()
            assert future.result(10) is True
            assert pool.do(threading.get_ident).get(10) == worker  # the same thread lives on
        assert "a settle callback raised" in caplog.text
    finally:
        pool.shutdown()


class _Big:
    pass


@pytest.mark.timeout(30)
def test_a_cancelled_task_drops_its_arguments_at_once() -> None:
    pool = Pool(1)
    gate = threading.Event()
    try:
        pool.do(gate.wait, 10)  # the only worker is busy: the next task stays queued
        big = _Big()
        gone = weakref.ref(big)
        queued = pool.do(id, big)
        dependent = pool.do(abs, queued)
        del big
        assert asynckit.cancel(queued)
        gc.collect()
        assert gone() is None  # not when a worker reaches the queued node
        assert asynckit.state(dependent) == "cancelled"
        assert "id" in repr(queued)
    finally:
        gate.set()
        pool.shutdown()


@pytest.mark.parametrize("delay", [math.nan, math.inf, -1.0])
def test_retry_delay_must_be_finite_and_not_negative(pool: Pool, delay: float) -> None:
    with pytest.raises(ValueError, match="retry_delay"):
        pool.task(retries=2, retry_delay=delay)(abs)


@pytest.mark.parametrize("timeout, error", [
    ("1", TypeError), (math.nan, ValueError), (-1, ValueError), (True, TypeError)])
def test_pool_wait_refuses_a_bad_timeout_even_when_idle(
        pool: Pool, timeout: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="timeout"):
        pool.wait(timeout)


class _InterruptedWhilePickled:
    def __reduce__(self) -> Any:
        raise KeyboardInterrupt  # as if Ctrl-C landed while pool.do() pickled


@pytest.mark.timeout(60)
def test_ctrl_c_during_a_processes_submission_reaches_the_caller() -> None:
    pool = Pool(1, backend="processes")
    try:
        with pytest.raises(KeyboardInterrupt):
            pool.do(pickle.dumps, _InterruptedWhilePickled())
        assert pool.wait(30)
        assert pool.do(abs, -4).get(30) == 4
    finally:
        pool.shutdown()


# -- dropped pools of every backend ---------------------------------------------------------


async def _answer(value: int) -> int:
    return value


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ["loop", "processes", "executor"])
def test_a_dropped_pool_of_any_backend_lets_its_threads_go(backend: str) -> None:
    import concurrent.futures

    users = concurrent.futures.ThreadPoolExecutor(1)  # the user's: it stays theirs
    pool = {"processes": lambda: Pool(1, backend="processes"),
            "executor": lambda: Pool(executor=users), "loop": lambda: Pool(1)}[backend]()
    fn: Any = _answer if backend == "loop" else abs
    assert asynckit.unwrap(pool.do(fn, 42)) == 42
    assert pool.wait(30)
    name = pool.name
    threads = [t for t in threading.enumerate() if t.name.startswith(f"{name}-")]
    assert threads
    del pool
    gc.collect()
    for thread in threads:
        thread.join(20)
        assert not thread.is_alive(), f"{thread.name} outlived its dropped pool"
    assert users.submit(abs, -1).result(10) == 1
    users.shutdown()


@pytest.mark.timeout(30)
def test_a_task_waiting_untimed_for_its_own_value_raises_at_once() -> None:
    pool = Pool(1)
    try:
        holder: dict[str, Any] = {}
        made = threading.Event()

        def me() -> Any:
            made.wait(10)
            return holder["v"].get()  # can never settle: it is this very call

        holder["v"] = value = pool.do(me)
        made.set()
        with pytest.raises(RuntimeError, match="its own result"):
            value.get(10)
        assert pool.do(abs, -1).get(10) == 1  # the one worker is free again
    finally:
        pool.shutdown()
