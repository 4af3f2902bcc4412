"""Pool as a concurrent.futures.Executor: what CPython's executor tests check, and asyncio.

Modelled on Lib/test/test_concurrent_futures (submit, map, shutdown, references,
done callbacks, cancel), re-checked against asynckit's Pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
import weakref
from typing import Any

import pytest

import asynckit
from asynckit import AsyncList, Pool

pytestmark = pytest.mark.timeout(20)


def mul(x: int, y: int) -> int:
    return x * y


@pytest.fixture
def pool() -> Any:
    pool = Pool(worker_count=2)
    yield pool
    pool.shutdown(wait=True)


def test_pool_is_an_executor(pool: Pool) -> None:
    assert isinstance(pool, concurrent.futures.Executor)


def test_submit_returns_a_standard_future(pool: Pool) -> None:
    future = pool.submit(pow, 2, 8)
    assert isinstance(future, concurrent.futures.Future)
    assert future.result(timeout=5) == 256


def test_future_is_running_while_its_task_runs(pool: Pool) -> None:
    started = threading.Event()
    gate = threading.Event()
    future = pool.submit(lambda: (started.set(), gate.wait(5)) and "ran")
    assert started.wait(5)
    assert future.running() and not future.done()
    assert "state=running" in repr(future)
    assert not future.cancel()  # Executor semantics: a running Future cannot be cancelled
    gate.set()
    assert future.result(timeout=5) == "ran"
    assert not future.running() and future.done()


def test_submit_keywords(pool: Pool) -> None:
    assert pool.submit(mul, 2, y=8).result(timeout=5) == 16
    assert pool.submit(mul, x=2, y=4).result(timeout=5) == 8
    with pytest.raises(TypeError):
        pool.submit(fn=mul, x=2, y=4)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        pool.submit()  # type: ignore[call-arg]


def test_submit_exception_goes_to_the_future(pool: Pool) -> None:
    future = pool.submit(divmod, 1, 0)
    with pytest.raises(ZeroDivisionError):
        future.result(timeout=5)
    assert isinstance(future.exception(timeout=5), ZeroDivisionError)


def test_submit_async_values_are_dependencies(pool: Pool) -> None:
    gate = threading.Event()
    first = pool.do(lambda: gate.wait(5) and 20)
    future = pool.submit(mul, first, y=2)
    assert not future.done()
    gate.set()
    assert future.result(timeout=5) == 40


def test_submit_of_failed_dependency_fails_with_same_exception(pool: Pool) -> None:
    bad = pool.do(divmod, 1, 0)
    future = pool.submit(mul, bad, 2)
    error = future.exception(timeout=5)
    assert isinstance(error, ZeroDivisionError)
    assert error is asynckit.exception(bad)


def test_futures_work_with_concurrent_futures_wait_and_as_completed(pool: Pool) -> None:
    futures = [pool.submit(mul, n, 2) for n in range(10)]
    done, not_done = concurrent.futures.wait(futures, timeout=5)
    assert len(done) == 10 and not not_done
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures)) == \
        [n * 2 for n in range(10)]


def test_map_returns_an_async_list_in_input_order(pool: Pool) -> None:  # and an iterator
    result = pool.map(pow, range(10), range(10))
    assert isinstance(result, AsyncList)
    assert len(result) == 10
    assert list(result) == [pow(i, i) for i in range(10)]
    assert list(pool.map(mul, [1, 2, 3], [4, 5])) == [4, 10]  # zip semantics


def test_map_raises_the_first_exception_at_iteration(pool: Pool) -> None:
    # CPython's test_map_exception.
    iterator = iter(pool.map(divmod, [1, 1, 1, 1], [2, 2, 0, 2]))
    assert next(iterator) == (0, 1)
    assert next(iterator) == (0, 1)
    with pytest.raises(ZeroDivisionError):
        next(iterator)


def test_map_timeout_raises_timeout_error_at_iteration(pool: Pool) -> None:
    # CPython's test_map_timeout, with an Event instead of sleep(6).
    gate = threading.Event()
    results = []
    with pytest.raises(TimeoutError):
        for result in pool.map(lambda x: gate.wait(10) if x else x, [0, 0, 1], timeout=0.2):
            results.append(result)
    assert results == [0, 0]
    gate.set()


def test_list_of_map_honours_the_timeout(pool: Pool) -> None:
    gate = threading.Event()
    with pytest.raises(TimeoutError):
        list(pool.map(lambda x: gate.wait(10), [0], timeout=0.1))
    gate.set()


@pytest.mark.timeout(30)
def test_map_iteration_that_stops_early_cancels_the_calls_not_started() -> None:
    # Executor.map's result iterator cancels the remaining futures when it
    # stops early (timeout, error, break); pool.map's AsyncList does too.
    with Pool(worker_count=1) as pool:
        gate = threading.Event()
        started = threading.Event()

        def work(x: int) -> int:
            if x == 0:
                started.set()
                gate.wait(10)
            return x

        results = pool.map(work, range(5), timeout=0.2)
        assert started.wait(10)
        with pytest.raises(TimeoutError):
            list(results)
        gate.set()
        assert pool.wait(10)
        items = results._self_task.args
        assert asynckit.state(items[0]) == "done"  # it was running: never interrupted
        assert [asynckit.state(v) for v in items[1:]] == ["cancelled"] * 4

    with Pool(worker_count=1) as pool:
        gate = threading.Event()
        seen: list[int] = []

        def work(x: int) -> int:
            seen.append(x)
            if x > 0:
                gate.wait(10)  # the only worker stays here: 2 and 3 cannot start
            return x

        def first_of_a_map() -> None:
            # A break out of a map result nothing else holds: as the iterator
            # of Executor.map when it is dropped, the rest is cancelled.
            for first in pool.map(work, range(4)):
                assert first == 0
                break

        first_of_a_map()
        gate.set()
        assert pool.wait(10)
        assert 2 not in seen and 3 not in seen, seen

    with Pool(worker_count=2) as pool:
        # While the user holds the map result, taking the head (a break)
        # cancels nothing: the rest is still wanted. The map result is its
        # own iterator, so each loop goes on where the last one stopped
        # (Executor.map's generator), and the value is still the whole list.
        results = pool.map(abs, range(-4, 0))
        assert next(iter(results)) == 4
        for _head in results:
            break
        assert list(results) == [2, 1]
        assert results.get() == [4, 3, 2, 1] and len(results) == 4


def test_iterating_an_async_list_to_the_end_cancels_nothing(pool: Pool) -> None:
    gate = threading.Event()
    results = pool.map(lambda x: gate.wait(10) and abs(x), [-1, -2, -3])
    items = results._self_task.args  # the values, while the list is pending
    gate.set()
    assert list(results) == [1, 2, 3]
    assert [asynckit.state(v) for v in items] == ["done"] * 3
    assert results.get() == [1, 2, 3] and not results.is_error()


def test_map_bad_arguments(pool: Pool) -> None:
    with pytest.raises(TypeError):
        pool.map(42, [1])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        pool.map(abs, [1], chunksize=0)
    with pytest.raises(TypeError):
        pool.map(abs, [1], timeout="soon")  # type: ignore[arg-type]


def test_map_chunksize_is_accepted(pool: Pool) -> None:
    assert list(pool.map(abs, [-1, -2, -3], chunksize=2)) == [1, 2, 3]


def test_with_pool_waits_for_all_work_then_refuses_more() -> None:
    done = []
    gate = threading.Event()
    with Pool(worker_count=2) as pool:
        for n in range(5):
            pool.do(lambda n=n: gate.wait(5) and done.append(n))
        gate.set()
    assert sorted(done) == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(abs, 1)
    with pytest.raises(RuntimeError):
        pool.do(abs, 1)
    with pytest.raises(RuntimeError):
        pool.map(abs, [1])


def test_shutdown_twice_is_harmless() -> None:
    pool = Pool(worker_count=1)
    assert pool.submit(abs, -1).result(timeout=5) == 1
    pool.shutdown()
    pool.shutdown()
    pool.shutdown(wait=False)


def test_shutdown_without_wait_still_finishes_queued_work() -> None:
    pool = Pool(worker_count=1)
    gate = threading.Event()
    blocker = pool.submit(gate.wait, 5)
    queued = [pool.submit(mul, n, 3) for n in range(5)]
    pool.shutdown(wait=False)
    with pytest.raises(RuntimeError):
        pool.submit(abs, 1)
    gate.set()
    assert blocker.result(timeout=5) is True
    assert [f.result(timeout=5) for f in queued] == [0, 3, 6, 9, 12]


def test_shutdown_cancel_futures_cancels_unstarted_work_and_dependents() -> None:
    pool = Pool(worker_count=1)
    started = threading.Event()
    gate = threading.Event()

    def block() -> str:
        started.set()
        gate.wait(5)
        return "ran"

    running = pool.do(block)
    assert started.wait(5)
    queued = pool.do(mul, 2, 3)
    dependent = pool.do(mul, queued, 2)
    future = pool.submit(mul, 4, 4)
    pool.shutdown(wait=False, cancel_futures=True)
    assert asynckit.state(queued) == "cancelled"
    assert asynckit.state(dependent) == "cancelled"
    assert future.cancelled()
    gate.set()
    assert running.get(5) == "ran"  # a running task is never interrupted
    with pytest.raises(asynckit.CancelledError):
        dependent.get(5)


def test_cancel_futures_starts_chains_in_other_pools() -> None:
    # A chain step of a cancelled task runs whatever the outcome, even when it
    # belongs to another pool (it used to be left QUEUED and never started).
    first, second = Pool(worker_count=1), Pool(worker_count=1)
    try:
        gate = threading.Event()
        started = threading.Event()
        first.do(lambda: (started.set(), gate.wait(5)))
        assert started.wait(5)
        unstarted = first.do(abs, -1)
        cleanup = second._chain(unstarted._self_task, lambda: "cleaned", (), {})
        first.shutdown(wait=False, cancel_futures=True)
        assert asynckit.state(unstarted) == "cancelled"
        assert cleanup.get(5) == "cleaned"
        gate.set()
    finally:
        gate.set()
        second.shutdown()
        first.shutdown()


def test_submit_racing_shutdown_either_runs_or_raises() -> None:
    # Threads keep submitting while the pool shuts down: every submit either
    # raises RuntimeError or gives a future that completes; nothing hangs.
    pool = Pool(worker_count=2)
    futures: list[concurrent.futures.Future[int]] = []
    refused = []
    barrier = threading.Barrier(4)

    def submitter() -> None:
        barrier.wait(5)
        for n in range(200):
            try:
                futures.append(pool.submit(abs, -n))
            except RuntimeError:
                refused.append(n)
                return

    threads = [threading.Thread(target=submitter) for _ in range(3)]
    for thread in threads:
        thread.start()
    barrier.wait(5)
    pool.shutdown(wait=True)
    for thread in threads:
        thread.join(5)
    done, not_done = concurrent.futures.wait(futures, timeout=10)
    assert not not_done
    assert all(f.result() >= 0 for f in done)
    assert not any(thread.is_alive() for thread in threads)


def test_no_stale_references_to_arguments_or_function(pool: Pool) -> None:
    # CPython's test_no_stale_references: the executor must not keep a
    # finished task's function (a bound method here) or arguments alive.
    class Thing:
        def method(self, other: object) -> int:
            return 1

    thing, argument = Thing(), Thing()
    collected = threading.Event()
    argument_collected = threading.Event()
    ref = weakref.ref(thing, lambda _: collected.set())
    argument_ref = weakref.ref(argument, lambda _: argument_collected.set())
    future = pool.submit(thing.method, argument)
    assert future.result(timeout=5) == 1
    value = pool.do(thing.method, argument)
    assert value.get(5) == 1
    del thing, argument
    gc.collect()
    assert collected.wait(5) and argument_collected.wait(5)
    assert ref() is None and argument_ref() is None


def test_done_callbacks_are_called_once(pool: Pool) -> None:
    gate = threading.Event()
    future = pool.submit(lambda: gate.wait(5) and 42)
    calls: list[Any] = []
    future.add_done_callback(calls.append)
    assert calls == []
    gate.set()
    assert future.result(timeout=5) == 42
    concurrent.futures.wait([future], timeout=5)
    assert calls == [future]
    # Added after completion: called at once, on this thread.
    late: list[int] = []
    future.add_done_callback(lambda f: late.append(f.result()))
    assert late == [42]
    assert calls == [future]


def test_done_callback_sees_an_exception(pool: Pool) -> None:
    seen: list[BaseException | None] = []
    called = threading.Event()

    def note(f: concurrent.futures.Future[Any]) -> None:
        seen.append(f.exception())
        called.set()

    pool.submit(divmod, 1, 0).add_done_callback(note)
    assert called.wait(5)
    assert len(seen) == 1 and isinstance(seen[0], ZeroDivisionError)


def test_future_cancel_on_a_not_started_task_cancels_the_task() -> None:
    pool = Pool(worker_count=1)
    started = threading.Event()
    gate = threading.Event()
    ran: list[str] = []
    try:
        pool.submit(lambda: (started.set(), gate.wait(5)))
        assert started.wait(5)
        future = pool.submit(ran.append, "should not run")
        callbacks: list[Any] = []
        future.add_done_callback(callbacks.append)
        assert future.cancel() is True
        assert future.cancelled() and future.done()
        assert callbacks == [future]
        with pytest.raises(concurrent.futures.CancelledError):
            future.result(timeout=1)
        assert future.cancel() is True  # cancelling again: still cancelled
    finally:
        gate.set()
        pool.shutdown()
    assert ran == []


def test_future_cancel_on_running_or_finished_task_is_false(pool: Pool) -> None:
    started = threading.Event()
    gate = threading.Event()
    running = pool.submit(lambda: (started.set(), gate.wait(5)))
    assert started.wait(5)
    assert running.cancel() is False
    gate.set()
    running.result(timeout=5)
    assert running.cancel() is False
    failed = pool.submit(divmod, 1, 0)
    failed.exception(timeout=5)
    assert failed.cancel() is False and not failed.cancelled()


def test_future_of_an_async_value(pool: Pool) -> None:
    gate = threading.Event()
    value = pool.do(lambda: gate.wait(5) and [1, 2])
    future = asynckit.future(value)
    assert isinstance(future, concurrent.futures.Future)
    assert not future.done()
    gate.set()
    result = future.result(timeout=5)
    assert result == [1, 2] and type(result) is list  # the plain result


def test_future_of_failed_value_observes_the_error(pool: Pool, caplog: Any) -> None:
    value = pool.do(divmod, 1, 0)
    future = asynckit.future(value)
    assert isinstance(future.exception(timeout=5), ZeroDivisionError)
    del value, future
    gc.collect()
    assert "nobody observed" not in caplog.text


def test_future_of_cancelled_value_is_cancelled() -> None:
    pool = Pool(worker_count=1)
    started = threading.Event()
    gate = threading.Event()
    try:
        pool.do(lambda: (started.set(), gate.wait(5)))
        assert started.wait(5)
        value = pool.do(abs, -1)
        future = asynckit.future(value)
        assert asynckit.cancel(value)
        assert future.cancelled()
    finally:
        gate.set()
        pool.shutdown()


def test_future_rejects_non_values() -> None:
    with pytest.raises(TypeError, match="AsyncValue"):
        asynckit.future(42)  # type: ignore[arg-type]


def test_run_in_executor() -> None:
    pool = Pool(worker_count=2)

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(*(loop.run_in_executor(pool, mul, n, 10)
                                         for n in range(5)))
        return list(results)

    try:
        assert asyncio.run(main()) == [0, 10, 20, 30, 40]
    finally:
        pool.shutdown()


def test_wrap_future_of_async_value() -> None:
    pool = Pool(worker_count=2)
    gate = threading.Event()

    async def main() -> int:
        value = pool.do(lambda: gate.wait(5) and 7)
        wrapped = asyncio.wrap_future(asynckit.future(value))
        asyncio.get_running_loop().call_soon(gate.set)
        return await wrapped  # type: ignore[no-any-return]

    try:
        assert asyncio.run(main()) == 7
    finally:
        gate.set()
        pool.shutdown()


def test_max_workers_is_a_read_only_alias_of_worker_count() -> None:
    with Pool(worker_count=3) as pool:
        assert pool._max_workers == 3
        pool.worker_count = 5
        assert pool._max_workers == 5
        with pytest.raises(AttributeError):
            pool._max_workers = 2  # type: ignore[misc]


@pytest.mark.timeout(60)
def test_dask_threaded_scheduler_runs_on_the_pool() -> None:
    # dask.threaded reads pool._max_workers to size its scheduler (issue 13:
    # `pool=` failed every time without it).
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    x = da.arange(100_000, chunks=10_000)
    y = (x * 2 + 1).reshape(1000, 100)
    computation = (y.sum(axis=0), (y ** 2).mean(), y.T.dot(y)[:3, :3])
    with concurrent.futures.ThreadPoolExecutor(4) as executor:
        expected = dask.compute(*computation, scheduler="threads", pool=executor)
    ran_on: set[str] = set()
    with Pool(worker_count=4, name="dask-pool") as pool:
        got = dask.compute(*computation, scheduler="threads", pool=pool)
        with dask.config.set(pool=pool, scheduler="threads"):
            again = dask.compute(*computation)
            pool_thread = dask.compute(
                da.from_array([0], chunks=1).map_blocks(
                    lambda block: (ran_on.add(threading.current_thread().name), block)[1]))
    assert pool_thread[0].tolist() == [0]
    # (map_blocks also calls it once here, in this thread, to learn the output's type)
    assert any(name.startswith("dask-pool") for name in ran_on), ran_on
    for result in (got, again):
        for mine, theirs in zip(result, expected, strict=True):
            assert mine.shape == theirs.shape and (mine == theirs).all()
