"""Pool: sizing, submitting, the task decorator, map, wait, shutdown, bad input.

Ordering is proven with threading.Event and parallelism with threading.Barrier;
nothing here sleeps to order things. A "has not happened" check waits a short
while for the thing and asserts it did not come: it can let a bug through on a
very slow machine, never fail a correct pool.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading

import pytest

import asynckit
from asynckit import AsyncList, AsyncValue, Pool

NOT_YET = 0.05  # how long a "has not happened" check looks


@pytest.fixture
def pool():
    p = Pool(worker_count=4)
    yield p
    p.shutdown(cancel_futures=True)


@pytest.fixture
def gates(pool):
    """Events a test gates tasks on; all set at teardown, before the pool shuts down."""
    made: list[threading.Event] = []

    def gate() -> threading.Event:
        event = threading.Event()
        made.append(event)
        return event

    yield gate
    for event in made:
        event.set()


def ident(x):
    return x


# --------------------------------------------------------------------------
# worker_count


def test_default_worker_count_is_cpu_plus_four_capped_at_32():
    pool = Pool()
    try:
        assert pool.worker_count == min(32, (os.cpu_count() or 1) + 4)
    finally:
        pool.shutdown()


@pytest.mark.parametrize("cpus, expected", [(1, 5), (2, 6), (28, 32), (100, 32)])
def test_default_worker_count_follows_cpu_count(monkeypatch, cpus, expected):
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    pool = Pool(worker_count=None)
    try:
        assert pool.worker_count == expected
    finally:
        pool.shutdown()


@pytest.mark.parametrize("bad", [0, -1, -100])
def test_worker_count_below_one_is_a_value_error(bad):
    with pytest.raises(ValueError, match="worker_count"):
        Pool(worker_count=bad)


@pytest.mark.parametrize("bad", [True, False, 2.0, 1.5, "4", [4]])
def test_worker_count_not_an_int_is_a_type_error(bad):
    with pytest.raises(TypeError, match="worker_count"):
        Pool(worker_count=bad)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (True, TypeError),
                                        (3.0, TypeError), ("8", TypeError), (None, TypeError)])
def test_resize_validates_like_construction(pool, bad, error):
    with pytest.raises(error, match="worker_count"):
        pool.worker_count = bad
    assert pool.worker_count == 4  # unchanged


@pytest.mark.parametrize("n", [2, 4])
def test_n_tasks_run_at_once_on_n_workers(n):
    barrier = threading.Barrier(n, timeout=20)
    pool = Pool(worker_count=n)
    try:
        values = [pool.do(barrier.wait) for _ in range(n)]
        assert sorted(v.get() for v in values) == list(range(n))
    finally:
        pool.shutdown()


@pytest.mark.timeout(30)
def test_a_thread_waiting_on_a_queued_task_never_runs_it_beyond_worker_count():
    # Pool(1) serialises: a get() from outside the pool waits for the worker,
    # it does not run the task itself alongside the one already running.
    import time

    pool = Pool(1)
    gate = threading.Event()
    started = threading.Event()
    pool.do(lambda: (started.set(), gate.wait(20)))
    assert started.wait(10)
    second = pool.do(lambda: (threading.current_thread().name, gate.is_set()))

    def open_the_gate_once_main_waits():
        while second._self_task.dependents is None:  # main's waiter is not registered yet
            time.sleep(0.001)  # polling a condition, not ordering by sleeping
        gate.set()

    threading.Thread(target=open_the_gate_once_main_waits, daemon=True).start()
    name, gate_was_open = second.get()
    assert gate_was_open, "the second task ran while the first still held the only worker"
    assert name != threading.main_thread().name
    pool.shutdown()


@pytest.mark.timeout(30)
def test_resize_up_lets_more_tasks_meet(gates):
    pool = Pool(worker_count=2)
    try:
        barrier = threading.Barrier(4, timeout=20)
        started = threading.Semaphore(0)
        third = threading.Event()
        count = [0]
        lock = threading.Lock()

        def meet():
            with lock:
                count[0] += 1
                if count[0] == 3:
                    third.set()
            started.release()
            return barrier.wait()

        values = [pool.do(meet) for _ in range(4)]
        started.acquire()
        started.acquire()
        assert not third.wait(NOT_YET)  # two workers: only two are in
        pool.worker_count = 4
        assert pool.worker_count == 4
        assert sorted(v.get() for v in values) == [0, 1, 2, 3]
    finally:
        pool.shutdown()


@pytest.mark.timeout(30)
def test_resize_down_runs_one_at_a_time(gates):
    pool = Pool(worker_count=4)
    try:
        barrier = threading.Barrier(4, timeout=20)
        assert len({v.get() for v in [pool.do(barrier.wait) for _ in range(4)]}) == 4
        pool.worker_count = 1
        assert pool.worker_count == 1
        gate = gates()
        first_running = threading.Event()
        second_ran = threading.Event()

        def first():
            first_running.set()
            gate.wait(20)
            return "first"

        a = pool.do(first)
        b = pool.do(second_ran.set)
        assert first_running.wait(10)
        assert not second_ran.wait(NOT_YET)  # the one worker is busy with `first`
        gate.set()
        assert a.get() == "first"
        b.get()
        assert second_ran.is_set()
    finally:
        pool.shutdown()


@pytest.mark.timeout(30)
def test_resize_down_then_up_runs_in_parallel_again():
    pool = Pool(worker_count=4)
    try:
        barrier = threading.Barrier(4, timeout=20)
        [v.get() for v in [pool.do(barrier.wait) for _ in range(4)]]
        pool.worker_count = 1
        assert pool.do(ident, 1).get() == 1
        pool.worker_count = 3
        barrier = threading.Barrier(3, timeout=20)
        running = threading.Event()

        def first():
            running.set()
            return barrier.wait()

        a = pool.do(first)
        assert running.wait(10)  # no backlog in sight when the others arrive
        rest = [pool.do(barrier.wait) for _ in range(2)]
        assert sorted(v.get() for v in [a, *rest]) == [0, 1, 2]
    finally:
        pool.shutdown()


# --------------------------------------------------------------------------
# do


def test_do_returns_an_async_value_of_the_result(pool):
    v = pool.do(pow, 2, 10)
    assert isinstance(v, AsyncValue)
    assert v.get() == 1024
    assert pool.do(lambda a, *, b: a - b, 10, b=3).get() == 7
    # fn is positional-only: keyword arguments of any name reach the function
    assert pool.do(dict, fn=1, self=2, args=3).get() == {"fn": 1, "self": 2, "args": 3}


@pytest.mark.parametrize("bad", [3, "fn", None, [print]])
def test_do_with_a_non_callable_raises_type_error_at_once(pool, bad):
    with pytest.raises(TypeError, match="callable"):
        pool.do(bad)
    assert pool.wait(5)


def test_do_with_a_coroutine_object_says_to_pass_the_function(pool):
    async def fetch(url):
        return url

    coro = fetch("x")
    with pytest.raises(TypeError, match=r"pool\.do\(fetch, url\)"):
        pool.do(coro)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED


def test_tasks_may_submit_and_use_tasks(pool):
    def outer(n):
        return sum(pool.do(ident, i) for i in range(n))

    assert pool.do(outer, 5).get() == 10


@pytest.mark.timeout(20)
def test_nested_wait_does_not_deadlock_one_worker():
    pool = Pool(worker_count=1)
    try:
        def outer():
            return pool.do(ident, 20).get() + pool.do(ident, 1) + 1

        assert pool.do(outer).get() == 22
    finally:
        pool.shutdown()


# --------------------------------------------------------------------------
# task decorator


def test_task_on_a_function_keeps_name_doc_wrapped_signature(pool):
    def add(a: int, b: int = 2) -> int:
        """Add two numbers."""
        return a + b

    task = pool.task(add)
    assert task.__name__ == "add"
    assert task.__doc__ == "Add two numbers."
    assert task.__wrapped__ is add
    assert inspect.signature(task) == inspect.signature(add)
    inline = task.__wrapped__(1, 5)
    assert type(inline) is int and inline == 6
    v = task(1)
    assert isinstance(v, AsyncValue)
    assert v.get() == 3


def test_task_with_options_keeps_metadata_too(pool):
    @pool.task(retries=1, limit=2, name="labelled")
    def mul(a, b):
        """Multiply."""
        return a * b

    assert mul.__name__ == "mul"
    assert mul.__doc__ == "Multiply."
    assert list(inspect.signature(mul).parameters) == ["a", "b"]
    assert mul.__wrapped__(3, 4) == 12
    v = mul(3, 5)
    assert repr(v) == "15" or repr(v).startswith("<AsyncValue labelled(3, 5)")
    assert v.get() == 15


def _make_class(pool):
    class Thing:
        factor = 10

        def __init__(self, offset):
            self.offset = offset

        @pool.task
        def method(self, x):
            """A method."""
            return x * self.factor + self.offset

        @staticmethod
        @pool.task
        def static_inner(x):
            """Static, task inside."""
            return x + 1

        @pool.task
        @staticmethod
        def static_outer(x):
            """Static, task outside."""
            return x + 2

        @classmethod
        @pool.task
        def class_inner(cls, x):
            """Class, task inside."""
            return (cls.__name__, cls.factor * x)

        @pool.task
        @classmethod
        def class_outer(cls, x):
            """Class, task outside."""
            return (cls.__name__, cls.factor + x)

    return Thing


def test_task_on_a_method(pool):
    Thing = _make_class(pool)
    thing = Thing(5)
    v = thing.method(2)
    assert isinstance(v, AsyncValue) and v.get() == 25
    assert Thing.method(thing, 3).get() == 35
    assert Thing.method.__name__ == "method"
    assert Thing.method.__doc__ == "A method."
    inline = thing.method.__wrapped__(4)
    assert type(inline) is int and inline == 45
    assert list(inspect.signature(thing.method).parameters) == ["x"]
    assert list(inspect.signature(Thing.method).parameters) == ["self", "x"]


@pytest.mark.parametrize("name, arg, expected", [("static_inner", 1, 2), ("static_outer", 1, 3)])
def test_task_on_a_staticmethod_either_order(pool, name, arg, expected):
    Thing = _make_class(pool)
    for owner in (Thing, Thing(0)):
        fn = getattr(owner, name)
        v = fn(arg)
        assert isinstance(v, AsyncValue) and v.get() == expected
        assert fn.__name__ == name
        assert fn.__doc__.startswith("Static")
        assert list(inspect.signature(fn).parameters) == ["x"]
        inline = fn.__wrapped__(arg)
        assert type(inline) is int and inline == expected


@pytest.mark.parametrize("name, expected", [("class_inner", ("Sub", 30)),
                                            ("class_outer", ("Sub", 13))])
def test_task_on_a_classmethod_either_order(pool, name, expected):
    Thing = _make_class(pool)

    class Sub(Thing):
        pass

    for owner in (Sub, Sub(0)):
        fn = getattr(owner, name)
        v = fn(3)
        assert isinstance(v, AsyncValue) and v.get() == expected
        assert fn.__name__ == name
        assert fn.__doc__.startswith("Class")
        assert list(inspect.signature(fn).parameters) == ["x"]
        if name == "class_inner" and sys.version_info >= (3, 13):
            # 3.13 stopped classmethod from binding the descriptor it wraps:
            # the method's __wrapped__ is the plain function. Calls are
            # unaffected (above); README: put @pool.task above @classmethod.
            continue
        inline = fn.__wrapped__(3)
        assert type(inline) is tuple and inline == expected


@pytest.mark.parametrize("bad", [3, "name", b"x"])
def test_task_on_a_non_callable_is_a_type_error(pool, bad):
    with pytest.raises(TypeError, match="callable"):
        pool.task(bad)


def test_task_call_runs_on_the_pool_thread(pool):
    @pool.task
    def where():
        return threading.current_thread().name

    assert where().get().startswith(pool.name)


@pytest.mark.parametrize("options, error, words", [
    ({"retries": -1}, ValueError, "retries"),
    ({"retries": "2"}, TypeError, "retries"),
    ({"retries": True}, TypeError, "retries"),
    ({"retry_on": int}, TypeError, "retry_on"),
    ({"retry_on": (ValueError, "x")}, TypeError, "retry_on"),
    ({"retry_delay": -0.5}, ValueError, "retry_delay"),
    ({"retry_delay": "1"}, TypeError, "retry_delay"),
    ({"limit": 0}, ValueError, "limit"),
    ({"limit": 2.0}, TypeError, "limit"),
    ({"name": 3}, TypeError, "name"),
])
def test_task_options_are_validated(pool, options, error, words):
    with pytest.raises(error, match=words):
        pool.task(**options)


def test_task_on_an_async_generator_function_says_why(pool):
    async def items():
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        pool.task(items)


# --------------------------------------------------------------------------
# map


def test_map_returns_an_async_list_in_input_order(pool, gates):
    order = [gates() for _ in range(4)]

    def slow(i, j):
        order[i].wait(20)
        return i * j

    result = pool.map(slow, range(4), [10, 20, 30, 40])
    assert isinstance(result, AsyncList)
    assert len(result) == 4
    for gate in reversed(order):  # finish in reverse order
        gate.set()
    assert result.get() == [0, 20, 60, 120]
    assert list(result) == [0, 20, 60, 120]


def test_map_over_nothing_is_an_empty_list(pool):
    result = pool.map(ident, [])
    assert len(result) == 0
    assert result.get() == []


def test_map_timeout_raises_builtin_timeout_error_on_iteration(pool, gates):
    gate = gates()
    result = pool.map(lambda x: gate.wait(20) and x, [1, 2], timeout=0.05)
    assert len(result) == 2
    with pytest.raises(TimeoutError):
        list(result)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"chunksize": 0}, ValueError, "chunksize"),
    ({"timeout": "1"}, TypeError, "timeout"),
])
def test_map_validates_its_arguments(pool, kwargs, error, words):
    with pytest.raises(error, match=words):
        pool.map(ident, [1], **kwargs)


def test_map_with_a_non_callable_is_a_type_error(pool):
    with pytest.raises(TypeError, match="callable"):
        pool.map(3, [1])


# --------------------------------------------------------------------------
# wait, shutdown, context manager


def test_wait_true_once_all_settled_false_on_timeout(pool, gates):
    gate = gates()
    v = pool.do(lambda: gate.wait(20) and "done")
    assert pool.wait(0.05) is False
    assert not v.is_set()
    gate.set()
    assert pool.wait() is True
    assert v.is_set()
    assert pool.wait(0) is True


def test_wait_covers_tasks_submitted_by_tasks_and_chains(pool, gates):
    gate = gates()
    seen = []

    def inner():
        gate.wait(20)
        seen.append("inner")

    def outer():
        pool.do(inner)
        return "outer"

    v = pool.do(outer)
    v.get()
    chained = v.chain(lambda: pool.do(lambda: seen.append("from chain")))
    chained.wait()
    assert pool.wait(0.05) is False  # `inner` is still gated
    gate.set()
    assert pool.wait() is True
    assert sorted(seen) == ["from chain", "inner"]


def test_wait_does_not_raise_task_errors(pool):
    v = pool.do(int, "not a number")
    assert pool.wait() is True
    assert v.is_error()


def test_wait_validates_timeout(pool):
    with pytest.raises(TypeError, match="timeout"):
        pool.wait("soon")


def test_wait_inside_a_task_of_the_same_pool_is_refused(pool):
    v = pool.do(pool.wait)
    with pytest.raises(RuntimeError, match="wait"):
        v.get()


def test_use_after_shutdown_is_a_runtime_error(pool):
    assert pool.do(ident, 1).get() == 1
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.do(ident, 2)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.task(ident)(3)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.map(ident, [1])
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(ident, 1)


def test_shutdown_waits_for_submitted_work(gates):
    pool = Pool(worker_count=2)
    gate = gates()
    v = pool.do(lambda: gate.wait(20) and "late")
    threading.Thread(target=lambda: pool.do(gate.set)).start()
    pool.shutdown(wait=True)
    assert v.is_set()
    assert v.get() == "late"


def test_shutdown_cancel_futures_cancels_unstarted(gates):
    pool = Pool(worker_count=1)
    gate = gates()
    running = threading.Event()
    blocker = pool.do(lambda: (running.set(), gate.wait(20))[1])
    assert running.wait(10)
    queued = pool.do(ident, 1)
    dependent = pool.do(ident, queued)
    threading.Thread(target=lambda: (pool.wait(), None)).start()
    pool.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(asynckit.CancelledError):
        queued.get()
    with pytest.raises(asynckit.CancelledError):
        dependent.get()
    gate.set()
    assert blocker.get() is True
    assert pool.wait(10)


def test_context_manager_waits_for_all_work_on_exit(gates):
    gate = gates()
    leaving = threading.Event()

    def release_after_leaving():
        leaving.wait(20)
        gate.set()

    threading.Thread(target=release_after_leaving).start()
    with Pool(worker_count=2) as pool:
        v = pool.do(lambda: gate.wait(20) and "finished")
        leaving.set()
    assert v.is_set()
    assert v.get() == "finished"
    with pytest.raises(RuntimeError):
        pool.do(ident, 1)


def test_pool_is_an_executor_for_asyncio(pool):
    async def main():
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, ident, 41)

    assert asyncio.run(main()) == 41


def test_bad_backend_and_name_are_rejected():
    with pytest.raises(ValueError, match="backend"):
        Pool(backend="nope")
    with pytest.raises(TypeError, match="name"):
        Pool(name=3)


def _workers(pool):
    return [t for t in threading.enumerate() if t.name.startswith(pool.name + "-")]


def test_threads_start_on_demand_and_leave_after_shutdown():
    pool = Pool(worker_count=3)
    assert _workers(pool) == []  # nothing started yet
    barrier = threading.Barrier(3, timeout=20)
    [v.get() for v in [pool.do(barrier.wait) for _ in range(3)]]
    workers = _workers(pool)
    assert 1 <= len(workers) <= 3
    pool.shutdown()
    for thread in workers:
        thread.join(10)
        assert not thread.is_alive()


def test_default_pool_do_task_wait():
    assert asynckit.do(ident, 5).get() == 5

    @asynckit.task
    def double(x):
        return x * 2

    v = double(asynckit.do(ident, 4))
    assert asynckit.wait(10) is True
    assert v.is_set() and v == 8


def test_max_workers_is_accepted_as_threadpoolexecutors_name_for_worker_count() -> None:
    pool = Pool(max_workers=3)
    try:
        assert pool.worker_count == 3 and pool._max_workers == 3
    finally:
        pool.shutdown()
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        Pool(max_workers=0)
    with pytest.raises(TypeError, match="not both"):
        Pool(2, max_workers=3)
