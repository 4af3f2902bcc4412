"""Never hang, never drop work, never hide an error (API.md §4 last bullet, §6).

Nested waits, unobserved errors, cancellation and faults, in this process.
Exit and Ctrl-C are in test_exit.py (they need a real interpreter exit).
"""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import asynckit
from asynckit import Pool

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def pools() -> Iterator[list[Pool]]:
    made: list[Pool] = []
    yield made
    for pool in made:
        pool.shutdown(wait=True, cancel_futures=True)


def _pool(pools: list[Pool], worker_count: int) -> Pool:
    pool = Pool(worker_count)
    pools.append(pool)
    return pool


def _fib(n: int) -> int:
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


# --------------------------------------------------------------------------
# Nested waits never deadlock


@pytest.mark.parametrize("workers", [1, 2])
def test_recursive_fib_blocking_inside_workers(pools: list[Pool], workers: int) -> None:
    pool = _pool(pools, workers)

    @pool.task
    def fib(n: int) -> Any:
        if n < 2:
            return n
        return fib(n - 1) + fib(n - 2)  # uses two proxies: blocks in the worker

    assert fib(15).get(timeout=20) == 610
    assert pool.wait(20)


@pytest.mark.parametrize("workers", [1, 2])
def test_recursive_fib_flattening_never_blocks(pools: list[Pool], workers: int) -> None:
    pool = _pool(pools, workers)

    @pool.task
    def add(a: int, b: int) -> int:
        return a + b

    @pool.task
    def fib(n: int) -> Any:
        if n < 2:
            return n
        return add(fib(n - 1), fib(n - 2))

    assert fib(15).get(timeout=20) == 610
    assert pool.statistics()["threads"] <= workers  # nobody had to be lent


def test_timed_wait_in_the_only_worker_borrows_a_thread(pools: list[Pool]) -> None:
    # A timed wait never runs the awaited task inline; the pool must lend a
    # thread while the only worker sleeps.
    pool = _pool(pools, 1)
    outer_thread: list[int] = []

    def inner() -> int:
        return threading.get_ident()

    def outer() -> int:
        outer_thread.append(threading.get_ident())
        return pool.do(inner).get(timeout=10)

    inner_thread = pool.do(outer).get(timeout=15)
    assert inner_thread != outer_thread[0]


def test_wait_on_a_value_that_becomes_ready_later_in_the_only_worker(pools: list[Pool]) -> None:
    # The worker waits on a task whose input comes from elsewhere (another
    # pool); when it becomes ready the pool must find a thread for it, even if
    # a stale "idle worker" hint is lying around (a race of the worker loop,
    # forced here).
    pool = _pool(pools, 1)
    other = _pool(pools, 1)
    go = threading.Event()
    started = threading.Event()
    proceed = threading.Event()
    gate = other.do(go.wait, 10)

    def outer() -> Any:
        started.set()
        proceed.wait(10)
        return pool.do(lambda ok: ("inner", ok), gate).get()

    result = pool.do(outer)
    assert started.wait(10)
    pool._backend.idle.append(None)  # a hint with no sleeping worker behind it
    proceed.set()
    backend = pool._backend
    while backend.blocked == 0 and not result.is_set():
        threading.Event().wait(0.001)  # polling a condition: the worker is asleep
    go.set()
    assert result.get(timeout=10) == ("inner", True)


def test_tasks_submit_tasks_and_pass_new_values_on(pools: list[Pool]) -> None:
    pool = _pool(pools, 1)

    @pool.task
    def square(x: int) -> int:
        return x * x

    @pool.task
    def total(*xs: int) -> int:
        return sum(xs)

    @pool.task
    def fan(n: int) -> Any:
        squares = [square(i) for i in range(n)]
        doubled = [total(s, s) for s in squares]  # new values into new tasks
        if n % 2:
            return total(*doubled)  # flattens: the worker does not wait
        return sum(d.get() for d in doubled)  # blocks in the worker

    results = [fan(n) for n in range(8)]
    assert [r.get(timeout=20) for r in results] == [
        2 * sum(i * i for i in range(n)) for n in range(8)]
    assert pool.wait(20)


@pytest.mark.parametrize("how", ["as_completed", "future", "submit", "submit timed"])
def test_helpers_that_block_inside_the_only_worker_never_deadlock(pools: list[Pool],
                                                                  how: str) -> None:
    pool = _pool(pools, 1)

    def inner() -> Any:
        value = pool.do(abs, -7)  # queued behind the task that waits for it
        if how == "as_completed":
            return [v.get() for v in asynckit.as_completed([value])][0]
        if how == "future":
            return asynckit.future(value).result()
        if how == "submit":
            return pool.submit(abs, -7).result()
        return pool.submit(abs, -7).result(timeout=20)

    assert pool.do(inner).get(20) == 7


def test_deep_chain_of_blocking_waits_with_one_worker(pools: list[Pool]) -> None:
    pool = _pool(pools, 1)

    @pool.task
    def depth(n: int) -> int:
        return 0 if n == 0 else depth(n - 1).get() + 1

    assert depth(60).get(timeout=20) == 60


# --------------------------------------------------------------------------
# Unobserved errors are logged, once


class Unseen(Exception):
    pass


def _fail(message: str = "boom") -> None:
    raise Unseen(message)


def _identity(x: Any) -> Any:
    return x


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "asynckit" and r.levelno == logging.WARNING]


def _settle_and_collect(pool: Pool) -> None:
    assert pool.wait(10)
    gc.collect()
    gc.collect()


def test_unobserved_error_is_logged_with_traceback_when_collected(
        pools: list[Pool], caplog: pytest.LogCaptureFixture) -> None:
    pool = _pool(pools, 2)
    value = pool.do(_fail, "collected")
    assert value.wait(10)
    assert _warnings(caplog) == []  # still alive: nothing yet
    del value
    _settle_and_collect(pool)
    [record] = _warnings(caplog)
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], Unseen)
    assert "collected" in caplog.text and "Traceback" in caplog.text and "_fail" in caplog.text


def test_failure_whose_only_follower_is_a_chain_is_logged_when_collected(
        pools: list[Pool], caplog: pytest.LogCaptureFixture) -> None:
    # Nothing may keep the failure alive once the user drops it: not the
    # worker that ran the chain, not the traceback (a cycle through the
    # frame that ran the task would wait for some later collection).
    pool = _pool(pools, 1)
    for _ in range(3):
        caplog.clear()
        failed = pool.do(_fail, "chained")
        cleanup = failed.chain(_identity, None)
        assert cleanup.wait(10)
        del failed, cleanup
        _settle_and_collect(pool)
        assert len(_warnings(caplog)) == 1, caplog.text


def test_fire_and_forget_failure_is_logged(pools: list[Pool],
                                           caplog: pytest.LogCaptureFixture) -> None:
    pool = _pool(pools, 2)
    pool.do(_fail, "forgotten")
    _settle_and_collect(pool)
    assert len(_warnings(caplog)) == 1
    assert "forgotten" in caplog.text


def test_a_chain_of_three_failures_is_logged_once(pools: list[Pool],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    pool = _pool(pools, 2)
    first = pool.do(_fail, "chain")
    second = pool.do(_identity, first)
    third = pool.do(_identity, [second])
    assert third.wait(10)
    assert asynckit.state(second) == asynckit.state(third) == "failed"
    del first, second, third
    _settle_and_collect(pool)
    assert len(_warnings(caplog)) == 1


def _observe_get(v: Any) -> None:
    with pytest.raises(Unseen):
        v.get()


def _observe_use(v: Any) -> None:
    with pytest.raises(Unseen):
        v + 1


def _observe_is_error(v: Any) -> None:
    assert v.is_error()


def _observe_exception(v: Any) -> None:
    assert isinstance(asynckit.exception(v), Unseen)


def _observe_dependent(v: Any) -> None:
    with pytest.raises(Unseen):
        asynckit.do(_identity, v).get()


def _observe_asynclist(v: Any) -> None:
    with pytest.raises(Unseen):
        asynckit.AsyncList([1, v]).get()


@pytest.mark.parametrize("observe", [_observe_get, _observe_use, _observe_is_error,
                                     _observe_exception, _observe_dependent,
                                     _observe_asynclist])
def test_observed_error_is_never_logged(pools: list[Pool], caplog: pytest.LogCaptureFixture,
                                        observe: Any) -> None:
    pool = _pool(pools, 2)
    value = pool.do(_fail, "seen")
    downstream = pool.do(_identity, value)  # fails with the same, observed, error
    assert value.wait(10) and downstream.wait(10)
    observe(value)
    del value, downstream
    _settle_and_collect(pool)
    asynckit.wait(10)
    gc.collect()
    assert _warnings(caplog) == []


def test_observing_a_dependent_observes_the_source(pools: list[Pool],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    pool = _pool(pools, 2)
    source = pool.do(_fail, "source")
    dependent = pool.do(_identity, source)
    with pytest.raises(Unseen):
        dependent.get(timeout=10)
    del source, dependent
    _settle_and_collect(pool)
    assert _warnings(caplog) == []


def test_cancelled_values_are_not_reported(pools: list[Pool],
                                           caplog: pytest.LogCaptureFixture) -> None:
    pool = _pool(pools, 1)
    release = threading.Event()
    busy = pool.do(release.wait, 10)
    queued = pool.do(_identity, 1)
    assert asynckit.cancel(queued)
    release.set()
    del queued, busy
    _settle_and_collect(pool)
    assert _warnings(caplog) == []


# --------------------------------------------------------------------------
# Cancellation


def test_cancel_not_started_cancels_every_dependent_with_the_same_error(
        pools: list[Pool]) -> None:
    pool = _pool(pools, 1)
    release = threading.Event()
    started = threading.Event()
    ran: list[str] = []

    def busy() -> str:
        started.set()
        release.wait(10)
        return "busy"

    def note(tag: str, *inputs: Any) -> str:
        ran.append(tag)
        return tag

    blocker = pool.do(busy)
    assert started.wait(10)
    target = pool.do(note, "target")
    child = pool.do(note, "child", target)
    grandchild = pool.do(note, "grandchild", {"k": [child]})
    listed: asynckit.AsyncList[Any] = asynckit.AsyncList([child, 1])
    unrelated = pool.do(note, "unrelated")
    chained = target.chain(note, "chained")  # runs whatever the outcome
    assert asynckit.state(target) == asynckit.state(child) == "pending"

    assert asynckit.cancel(target) is True
    assert asynckit.cancel(target) is False  # already settled
    errors = [asynckit.exception(v, timeout=10) for v in (target, child, grandchild, listed)]
    assert isinstance(errors[0], asynckit.CancelledError)
    assert isinstance(errors[0], concurrent.futures.CancelledError)
    assert all(e is errors[0] for e in errors)
    for value in (target, child, grandchild):
        assert asynckit.state(value) == "cancelled"
        assert value.is_error()
        with pytest.raises(asynckit.CancelledError):
            value.get()
    release.set()
    assert unrelated.get(timeout=10) == "unrelated"
    assert chained.get(timeout=10) == "chained"
    assert blocker.get(timeout=10) == "busy"
    assert pool.wait(10)
    assert sorted(ran) == ["chained", "unrelated"]


def test_cancel_returns_false_for_a_running_or_settled_task(pools: list[Pool]) -> None:
    pool = _pool(pools, 2)
    started = threading.Event()
    release = threading.Event()

    def running() -> int:
        started.set()
        release.wait(10)
        return 7

    value = pool.do(running)
    assert started.wait(10)
    assert asynckit.state(value) == "running"
    assert asynckit.cancel(value) is False
    assert asynckit.state(value) == "running"
    release.set()
    assert value.get(timeout=10) == 7
    assert asynckit.cancel(value) is False
    assert asynckit.state(value) == "done"

    failed = pool.do(_fail)
    assert failed.wait(10)
    assert asynckit.cancel(failed) is False
    assert asynckit.state(failed) == "failed"
    assert isinstance(asynckit.exception(failed), Unseen)


def test_state_moves_through_each_stage(pools: list[Pool]) -> None:
    pool = _pool(pools, 1)
    started = threading.Event()
    release = threading.Event()

    def step() -> int:
        started.set()
        release.wait(10)
        return 1

    first = pool.do(step)
    waiting = pool.do(_identity, first)  # waits for an input
    assert asynckit.state(waiting) == "pending"
    assert started.wait(10)
    assert asynckit.state(first) == "running"
    assert asynckit.state(waiting) == "pending"
    release.set()
    assert waiting.get(timeout=10) == 1
    assert asynckit.state(first) == asynckit.state(waiting) == "done"


# --------------------------------------------------------------------------
# Faults


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_base_exceptions_fail_the_value_and_the_worker_lives_on(
        pools: list[Pool], error: BaseException) -> None:
    pool = _pool(pools, 1)
    threads: list[int] = []

    def raises() -> None:
        threads.append(threading.get_ident())
        raise error

    def fine() -> int:
        threads.append(threading.get_ident())
        return 5

    queued_after = pool.do(_identity, 9)  # queued before the failure is seen
    value = pool.do(raises)
    later = pool.do(fine)
    assert later.get(timeout=10) == 5
    assert queued_after.get(timeout=10) == 9
    assert asynckit.exception(value, timeout=10) is error
    with pytest.raises(type(error)):
        value.get()
    assert threads[0] == threads[1], "a fresh thread replaced the worker"
    assert pool.do(fine).get(timeout=10) == 5
    assert pool.statistics()["threads"] == 1


def test_keyboard_interrupt_raised_by_a_worker_cancels_nothing(pools: list[Pool]) -> None:
    # Only a Ctrl-C on the main thread cancels the pools' unstarted work.
    pool = _pool(pools, 1)
    release = threading.Event()

    def interrupted() -> None:
        release.wait(10)
        raise KeyboardInterrupt

    first = pool.do(interrupted)
    queued = pool.do(_identity, "still runs")
    release.set()
    assert isinstance(asynckit.exception(first, timeout=10), KeyboardInterrupt)
    assert queued.get(timeout=10) == "still runs"


class _BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    __repr__ = __str__


def test_an_exception_whose_str_raises_still_propagates(
        pools: list[Pool], caplog: pytest.LogCaptureFixture) -> None:
    pool = _pool(pools, 1)

    def bad() -> None:
        raise _BadStr()

    value = pool.do(bad)
    dependent = pool.do(_identity, value)
    with pytest.raises(_BadStr):
        dependent.get(timeout=10)
    assert "failed" in repr(value)  # repr of the value survives too
    unobserved = pool.do(bad)
    assert unobserved.wait(10)
    del unobserved
    _settle_and_collect(pool)
    assert len(_warnings(caplog)) == 1


def test_a_chain_callback_that_raises_fails_its_own_value_only(pools: list[Pool]) -> None:
    pool = _pool(pools, 1)

    def cleanup() -> None:
        raise RuntimeError("cleanup failed")

    value = pool.do(_identity, 3)
    failing = value.chain(cleanup)
    after = failing.chain(_identity, "after")
    with pytest.raises(RuntimeError, match="cleanup failed"):
        failing.get(timeout=10)
    assert value.get() == 3
    assert after.get(timeout=10) == "after"
    assert pool.do(_identity, 4).get(timeout=10) == 4


def test_an_argument_that_cannot_be_rebuilt_fails_the_task(pools: list[Pool]) -> None:
    # Rebuilding a container around the inputs' results runs user code (here
    # a tuple subclass posing as a namedtuple): its error fails the task
    # instead of killing the worker and leaving the value pending forever.
    pool = _pool(pools, 1)

    class Odd(tuple):  # type: ignore[type-arg]
        _fields = ()

    value = pool.do(_identity, Odd([pool.do(_identity, 1)]))
    assert isinstance(asynckit.exception(value, timeout=10), TypeError)
    assert pool.do(_identity, 2).get(timeout=10) == 2
    assert pool.wait(10)


def test_an_argument_that_cannot_be_scanned_fails_the_call(pools: list[Pool]) -> None:
    pool = _pool(pools, 1)

    class Broken(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            raise OSError("cannot iterate")

    with pytest.raises(OSError, match="cannot iterate"):
        pool.do(_identity, Broken([1]))
    assert pool.wait(5), "a task that was never submitted keeps the pool busy"
