"""pool.map's result (asynclist.MapResult): an iterator and an AsyncList value; buffersize.

The map result is what ``Executor.map`` returns for code written for
``concurrent.futures`` (``next``, ``close``, ``contextlib.closing``, results
not kept once yielded) and an AsyncList for asynckit code (``get``, ``len``,
an argument of a task). ``buffersize`` is Python 3.14's keyword, on every
supported Python.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

import asynckit
from asynckit import AsyncList, Pool

pytestmark = pytest.mark.timeout(30)


class Dummy:
    """A result that can be weakly referenced (CPython's make_dummy_object)."""


def freed_event(obj: Any) -> threading.Event:
    event = threading.Event()
    weakref.finalize(obj, event.set)
    return event


@pytest.fixture
def saturated() -> Iterator[tuple[Pool, threading.Event]]:
    """A one-worker pool whose only worker is kept busy until the gate opens."""
    pool = Pool(worker_count=1)
    gate = threading.Event()
    started = threading.Event()
    pool.do(lambda: (started.set(), gate.wait(20)))
    assert started.wait(10)
    yield pool, gate
    gate.set()
    pool.shutdown(wait=True)


def test_next_without_iter_and_one_iteration(pool: Pool) -> None:
    results = pool.map(abs, [-1, -2, -3, -4])
    assert isinstance(results, AsyncList)
    assert next(results) == 1
    assert iter(results) is iter(results)  # the map's one iteration
    assert next(iter(results)) == 2
    assert [x for x in results] == [3, 4]
    with pytest.raises(StopIteration):
        next(results)
    assert results.get() == [1, 2, 3, 4] and len(results) == 4  # the value: all of it


def test_the_map_result_is_still_a_value(pool: Pool) -> None:
    results = pool.map(abs, range(-5, 0))
    assert len(results) == 5
    assert pool.do(sum, results).get(10) == 15  # a dependency, as any AsyncList
    assert list(results) == [5, 4, 3, 2, 1]
    assert results.get() == [5, 4, 3, 2, 1]
    assert results == [5, 4, 3, 2, 1] and asynckit.state(results) == "done"


def test_close_never_blocks_and_cancels_the_calls_not_started(
        saturated: tuple[Pool, threading.Event]) -> None:
    pool, gate = saturated
    ran: list[int] = []
    results = pool.map(ran.append, range(3))
    results.close()  # the calls wait behind the busy worker: close must not wait for them
    assert [asynckit.state(v) for v in results._self_task.args] == ["cancelled"] * 3
    with pytest.raises(StopIteration):
        next(results)
    gate.set()
    assert pool.wait(10)
    assert ran == []
    with pytest.raises(asynckit.CancelledError):
        results.get(0)


def test_contextlib_closing_with_a_break(saturated: tuple[Pool, threading.Event]) -> None:
    pool, gate = saturated
    ran: list[int] = []
    with contextlib.closing(pool.map(lambda x: ran.append(x) or x, range(5),
                                     timeout=0)) as results:
        with pytest.raises(TimeoutError):
            next(results)
        for _ in results:  # ended by the timeout: nothing more
            break
    gate.set()
    assert pool.wait(10)
    assert ran == []  # CPython's test_executor_map_current_future_cancel


def test_closing_after_a_break_cancels_the_rest(saturated: tuple[Pool, threading.Event],
                                                gates: Any) -> None:
    pool, gate = saturated
    hold = gates()
    ran: list[int] = []

    def work(x: int) -> int:
        ran.append(x)
        if x:
            hold.wait(20)  # the only worker stays here: 2, 3 and 4 cannot start
        return x

    with contextlib.closing(pool.map(work, range(5))) as results:
        items = list(results._self_task.args)
        gate.set()
        for value in results:
            assert value == 0
            break
    assert [asynckit.state(v) for v in items[2:]] == ["cancelled"] * 3
    hold.set()
    assert pool.wait(10)
    assert 2 not in ran and 3 not in ran and 4 not in ran, ran


def test_yielded_results_are_not_kept_once_the_map_result_is_not_held(pool: Pool) -> None:
    # CPython's test_free_reference (bpo-14406), with an Event instead of a retry loop.
    for obj in pool.map(lambda _: Dummy(), range(10)):
        freed = freed_event(obj)
        del obj
        gc.collect()
        assert freed.wait(10)


def test_yielded_results_stay_while_the_map_result_is_held(pool: Pool) -> None:
    results = pool.map(lambda _: Dummy(), range(3))
    taken = [weakref.ref(obj) for obj in results]
    gc.collect()
    assert all(ref() is not None for ref in taken)
    assert [ref() for ref in taken] == results.get()


def test_a_map_result_dropped_after_next_cancels_the_rest(
        saturated: tuple[Pool, threading.Event], gates: Any) -> None:
    pool, gate = saturated
    hold = gates()
    ran: list[int] = []

    def work(x: int) -> int:
        ran.append(x)
        if x:
            hold.wait(20)  # the only worker stays here: 2 and 3 cannot start
        return x

    results = pool.map(work, range(4))
    items = list(results._self_task.args)
    gate.set()
    assert next(results) == 0  # the iteration has started
    del results  # and is dropped, with its map result: the rest is not wanted
    gc.collect()
    assert [asynckit.state(v) for v in items[2:]] == ["cancelled"] * 2
    hold.set()
    assert pool.wait(10)
    assert 2 not in ran and 3 not in ran, ran


def test_a_map_never_iterated_runs_every_call(pool: Pool) -> None:
    # Fire and forget, as with Executor.map: an unstarted iteration cancels nothing.
    done: list[int] = []
    pool.map(done.append, range(20))
    pool.map(done.append, range(20, 30), buffersize=3)
    gc.collect()
    assert pool.wait(10)
    assert sorted(done) == list(range(23))


# --------------------------------------------------------------------------
# buffersize


def test_buffersize_bounds_the_calls_submitted_and_not_yet_yielded(gates: Any) -> None:
    pulled: list[int] = []

    def source() -> Iterator[int]:
        for n in itertools.count():  # endless: only a lazy map can take from it
            pulled.append(n)
            yield n

    gate = gates()
    started = [threading.Event() for _ in range(10)]

    def work(n: int) -> int:
        if n < len(started):
            started[n].set()
        gate.wait(20)
        return n * 10

    with Pool(worker_count=6) as pool:
        results = pool.map(work, source(), buffersize=3)
        assert all(event.wait(10) for event in started[:3])
        assert pulled == [0, 1, 2]  # six idle workers, three calls: the buffer
        gate.set()
        for taken in range(1, 51):
            assert next(results) == (taken - 1) * 10
            assert len(pulled) - taken <= 3  # submitted and not yet yielded
        results.close()
        assert len(pulled) == 53 and next(results, None) is None


def test_buffersize_results_errors_and_timeout(pool: Pool, gates: Any) -> None:
    assert list(pool.map(pow, range(10), range(10), buffersize=2)) == \
        [pow(i, i) for i in range(10)]
    assert list(pool.map(abs, [], buffersize=4)) == []
    failing = pool.map(divmod, [1, 1, 1, 1], [2, 0, 2, 2], buffersize=2)
    assert next(failing) == (0, 1)
    with pytest.raises(ZeroDivisionError):
        next(failing)
    with pytest.raises(StopIteration):
        next(failing)
    gate = gates()
    slow = pool.map(lambda x: gate.wait(20) and x, [1, 2], timeout=0.1, buffersize=1)
    with pytest.raises(TimeoutError):
        list(slow)


def test_a_buffered_map_is_an_iterator_only(pool: Pool) -> None:
    results = pool.map(abs, [-1, -2], buffersize=1)
    assert iter(results) is results
    with pytest.raises(TypeError):
        len(results)  # type: ignore[arg-type]
    assert not hasattr(results, "get")
    assert not isinstance(results, asynckit.AsyncValue)
    assert list(results) == [1, 2]


def test_a_buffered_map_closed_cancels_its_buffer_and_reads_no_more(
        saturated: tuple[Pool, threading.Event]) -> None:
    pool, gate = saturated
    ran: list[int] = []
    pulled: list[int] = []
    closed = pool.map(ran.append, (pulled.append(n) or n for n in range(100)), buffersize=2)
    buffered = list(closed._items or ())
    closed.close()
    assert [asynckit.state(v) for v in buffered] == ["cancelled"] * 2
    with pytest.raises(StopIteration):
        next(closed)
    # Dropped unread: fire and forget, as an Executor.map never iterated.
    dropped = pool.map(ran.append, range(100, 200), buffersize=2)
    del dropped
    gc.collect()
    gate.set()
    assert pool.wait(10)
    assert ran == [100, 101] and pulled == [0, 1]


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                        ("2", TypeError), (True, TypeError)])
def test_bad_buffersize_is_an_error_at_the_call(pool: Pool, bad: Any, error: type) -> None:
    with pytest.raises(error, match="buffersize"):
        pool.map(abs, [1], buffersize=bad)
    with pytest.raises(ValueError, match="buffersize"):
        pool.map(abs, [1], buffersize=2, progress=True)
    assert pool.statistics()["unsettled"] == 0
