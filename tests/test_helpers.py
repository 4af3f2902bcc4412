"""Module-level helpers: cancel, exception, state, as_completed, future, unwrap."""

from __future__ import annotations

import gc
import threading
import weakref
from collections import OrderedDict, namedtuple
from typing import Any

import pytest

import asynckit
from asynckit import AsyncValue, CancelledError, Pool

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def busy_pool() -> Any:
    """A one-worker pool whose worker is held until the test ends."""
    pool = Pool(worker_count=1)
    started = threading.Event()
    gate = threading.Event()
    pool.do(lambda: (started.set(), gate.wait(10)))
    assert started.wait(5)
    yield pool
    gate.set()
    pool.shutdown(wait=True)


# -- as_completed ---------------------------------------------------------------


def test_as_completed_yields_in_completion_order(pool: Pool) -> None:
    gates = [threading.Event() for _ in range(4)]
    values = [pool.do(lambda n=n: gates[n].wait(5) and n) for n in range(4)]
    order = [2, 0, 3, 1]
    seen = []
    iterator = asynckit.as_completed(values)
    gates[order[0]].set()
    for value in iterator:
        assert value.is_set()
        seen.append(value.get())
        if len(seen) < len(order):
            gates[order[len(seen)]].set()  # release the next one only now
    assert seen == order


def test_as_completed_yields_the_values_themselves(pool: Pool) -> None:
    values = [pool.do(abs, -n) for n in range(5)]
    yielded = list(asynckit.as_completed(values))
    assert sorted(map(id, yielded)) == sorted(map(id, values))
    assert all(isinstance(v, AsyncValue) for v in yielded)


def test_as_completed_settled_values_first_and_duplicates_once(busy_pool: Pool) -> None:
    pending = busy_pool.do(abs, -2)
    settled = asynckit.AsyncList([1])  # no inputs: settled at once
    iterator = asynckit.as_completed([pending, settled, settled], timeout=0.1)
    assert next(iterator) is settled
    with pytest.raises(TimeoutError, match="1 of 2"):
        next(iterator)  # not `settled` again


def test_as_completed_timeout(busy_pool: Pool) -> None:
    stuck = busy_pool.do(abs, -1)
    iterator = asynckit.as_completed([stuck], timeout=0.1)
    with pytest.raises(TimeoutError, match="1 of 1"):
        next(iterator)


def test_as_completed_timeout_counts_from_the_call(busy_pool: Pool) -> None:
    ready = asynckit.AsyncList([])
    stuck = busy_pool.do(abs, -1)
    iterator = asynckit.as_completed([ready, stuck], timeout=0)
    assert next(iterator) is ready  # already settled: yielded despite the timeout
    with pytest.raises(TimeoutError):
        next(iterator)


def test_as_completed_checks_arguments_at_the_call() -> None:
    with pytest.raises(TypeError, match="AsyncValue"):
        asynckit.as_completed([1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        asynckit.as_completed([], timeout="1")  # type: ignore[arg-type]
    assert list(asynckit.as_completed([])) == []


def test_as_completed_yields_failed_and_cancelled_values(busy_pool: Pool) -> None:
    failed = asynckit.do(divmod, 1, 0)
    cancelled = busy_pool.do(abs, -1)
    assert asynckit.cancel(cancelled)
    yielded = list(asynckit.as_completed([failed, cancelled], timeout=5))
    assert len(yielded) == 2
    assert asynckit.state(cancelled) == "cancelled"
    assert isinstance(asynckit.exception(failed), ZeroDivisionError)


def test_as_completed_keeps_no_reference_to_yielded_values(pool: Pool) -> None:
    # CPython's test_free_reference_yielded_future.
    class Result:
        pass

    values = [pool.do(Result) for _ in range(3)]
    iterator = asynckit.as_completed(values)
    for _ in range(3):
        value = next(iterator)
        values.remove(value)
        ref = weakref.ref(value.get())
        del value
        gc.collect()
        assert ref() is None


# -- cancel, exception, state -----------------------------------------------------


def test_state_through_a_life(busy_pool: Pool, pool: Pool) -> None:
    started = threading.Event()
    gate = threading.Event()
    running = pool.do(lambda: (started.set(), gate.wait(5)))
    assert started.wait(5)
    assert asynckit.state(running) == "running"
    queued = busy_pool.do(abs, -1)
    assert asynckit.state(queued) == "pending"
    gate.set()
    running.wait(5)
    assert asynckit.state(running) == "done"
    failed = pool.do(divmod, 1, 0)
    failed.wait(5)
    assert asynckit.state(failed) == "failed"
    assert asynckit.cancel(queued)
    assert asynckit.state(queued) == "cancelled"
    asynckit.exception(failed)  # observed


def test_cancel_cancels_dependents_not_running_tasks(busy_pool: Pool, pool: Pool) -> None:
    queued = busy_pool.do(abs, -1)
    dependent = pool.do(abs, queued)
    nested = pool.do(sum, [dependent, 1])
    assert asynckit.cancel(queued) is True
    assert asynckit.cancel(queued) is False  # already settled
    for value in (queued, dependent, nested):
        assert asynckit.state(value) == "cancelled"
        with pytest.raises(CancelledError):
            value.get(0)
    started = threading.Event()
    gate = threading.Event()
    running = pool.do(lambda: (started.set(), gate.wait(5)) and "ran")
    assert started.wait(5)
    assert asynckit.cancel(running) is False
    gate.set()
    assert running.get(5) == "ran"


def test_cancel_an_async_list_cancels_its_items_not_started(busy_pool: Pool,
                                                             pool: Pool) -> None:
    # As asyncio.gather's cancel(): the items not started are cancelled too.
    started = threading.Event()
    gate = threading.Event()
    running = pool.do(lambda: (started.set(), gate.wait(5)) and "ran")
    assert started.wait(5)
    items = [busy_pool.do(abs, -n) for n in range(3)]
    gathered = asynckit.AsyncList([running, *items, "plain"])
    dependent = pool.do(len, gathered)
    assert asynckit.cancel(gathered) is True
    assert [asynckit.state(item) for item in items] == ["cancelled"] * 3
    assert asynckit.state(gathered) == "cancelled"
    assert asynckit.state(dependent) == "cancelled"
    assert asynckit.cancel(gathered) is False  # already settled
    gate.set()
    assert running.get(5) == "ran"  # a running item is never interrupted

    queued = [busy_pool.do(abs, -n) for n in range(2)]
    whole = asynckit.AsyncList(queued)
    assert asynckit.cancel(whole) is True  # its items all cancelled: so is the list
    assert asynckit.state(whole) == "cancelled"


def test_as_completed_deadline_counts_from_the_call(pool: Pool) -> None:
    # As concurrent.futures.as_completed: what had settled before the call is
    # yielded whatever the time; after that, a passed deadline raises even if
    # more values have settled meanwhile.
    done = pool.do(abs, -1)
    assert done.wait(10)
    gate = threading.Event()
    later = pool.do(gate.wait, 10)
    completed = asynckit.as_completed([done, later], timeout=0)
    gate.set()
    assert later.wait(10)
    assert next(completed) is done
    with pytest.raises(TimeoutError):
        next(completed)


def test_exception(pool: Pool, busy_pool: Pool) -> None:
    assert asynckit.exception(pool.do(abs, -1), timeout=5) is None
    error = asynckit.exception(pool.do(int, "x"), timeout=5)
    assert isinstance(error, ValueError)
    stuck = busy_pool.do(abs, -1)
    with pytest.raises(TimeoutError):
        asynckit.exception(stuck, timeout=0.05)
    asynckit.cancel(stuck)
    assert isinstance(asynckit.exception(stuck), CancelledError)


@pytest.mark.parametrize("helper", [asynckit.cancel, asynckit.exception, asynckit.state])
def test_helpers_reject_plain_values(helper: Any) -> None:
    with pytest.raises(TypeError, match="AsyncValue"):
        helper(42)


# -- unwrap -------------------------------------------------------------------------


def test_unwrap_walks_containers(pool: Pool) -> None:
    Point = namedtuple("Point", "x y")
    one, two = pool.do(abs, -1), pool.do(abs, -2)
    nested = [one, (two, {"k": one, two: "key"}), {one, 5}, frozenset([two]),
              Point(one, two), OrderedDict(a=two)]
    plain = asynckit.unwrap(nested)
    assert plain == [1, (2, {"k": 1, 2: "key"}), {1, 5}, frozenset([2]), Point(1, 2),
                     OrderedDict(a=2)]
    assert type(plain[0]) is int and type(plain[4]) is Point
    assert type(plain[5]) is OrderedDict
    assert asynckit.unwrap(42) == 42
    untouched = [1, 2]
    assert asynckit.unwrap(untouched) is untouched
    assert type(asynckit.unwrap(pool.do(dict, a=1))) is dict


def test_unwrap_raises_a_failed_values_error(pool: Pool) -> None:
    with pytest.raises(ZeroDivisionError):
        asynckit.unwrap([pool.do(divmod, 1, 0)])
