"""pool.map on processes: chunks of calls packed into one task each (backends.packing).

What a user sees must not change with packing: results in order, each
failure raised where iteration reaches it, every call run, ``close()``
cancelling what has not left, ``timeout``, a dead worker named, the map
result usable as a value.
"""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path

import _procfuncs as f
import pytest

import asynckit
from asynckit import Pool, state
from asynckit.asynclist import ChunkValue
from asynckit.backends.batches import PACKED_IN_FLIGHT
from asynckit.backends.executor import start_method


@pytest.fixture(scope="module")
def pool():
    pool = Pool(2, backend="processes", name="packed-tests")
    yield pool
    pool.shutdown()


@pytest.fixture
def one_process():
    """A pool of one process: at most PACKED_IN_FLIGHT chunks leave for it at once."""
    pool = Pool(1, backend="processes", name="packed-one-process")
    yield pool
    pool.shutdown()


def parts(result: object) -> list[object]:
    return list(result._self_task.args or ())  # type: ignore[attr-defined]


@pytest.mark.timeout(60)
def test_a_packed_map_gives_every_result_in_order(pool: Pool) -> None:
    xs = list(range(1000))
    result = pool.map(f.add, xs, xs, chunksize=64)
    assert len(result) == 1000
    assert all(type(part) is ChunkValue for part in parts(result))
    assert len(parts(result)) == 16  # 15 of 64 and one of 40
    assert list(result) == [2 * x for x in xs]
    assert result.get() == [2 * x for x in xs]
    assert list(pool.map(abs, (-x for x in range(300)))) == list(range(300))  # no len()
    assert list(pool.map(abs, [])) == []
    assert pool.do(f.total, pool.map(abs, [-1, -2, -3], chunksize=2)).get(30) == 6
    assert pool.wait(30)


@pytest.mark.timeout(60)
def test_without_chunksize_the_calls_are_packed_by_default(pool: Pool) -> None:
    result = pool.map(abs, range(-5000, 0))
    chunks = parts(result)
    assert all(type(part) is ChunkValue for part in chunks) and 1 < len(chunks) < 5000
    assert result.get() == list(range(5000, 0, -1))


@pytest.mark.timeout(60)
def test_items_holding_values_go_one_by_one_among_packed_chunks(pool: Pool) -> None:
    three = pool.do(f.add, 1, 2)
    items = [(1, 2), (3, 4), (three, 1), (5, 6)]
    result = pool.map(f.total, items, chunksize=2)
    kinds = [type(part).__name__ for part in parts(result)]
    assert kinds == ["ChunkValue", "AsyncValue", "AsyncValue"]
    assert list(result) == [3, 7, 4, 11]


@pytest.mark.timeout(60)
def test_a_failed_call_fails_its_own_item_and_every_call_runs(pool: Pool,
                                                             tmp_path: Path) -> None:
    where = [str(tmp_path)] * 8
    xs = [1, 2, 3, 6, 4, 5, 7, 9]  # 3 and 6 fail in the first chunk, 9 in the second
    result = pool.map(f.record, where, xs, chunksize=4)
    assert next(result) == 1
    assert next(result) == 1  # 2 // 2
    with pytest.raises(ZeroDivisionError) as raised:
        next(result)
    assert "1 more of the 4 calls in this pool.map chunk failed too" in str(raised.value.__notes__)
    assert pool.wait(30)
    assert sorted(os.listdir(tmp_path)) == sorted(f"ran-{x}" for x in xs)
    with pytest.raises(ZeroDivisionError):
        result.get()
    assert state(result) == "failed"


@pytest.mark.timeout(60)
def test_a_result_that_does_not_pickle_fails_its_item_naming_it(pool: Pool) -> None:
    result = pool.map(f.lock_if_odd, [0, 2, 3, 4], chunksize=4)
    assert next(result) == 0
    assert next(result) == 2
    with pytest.raises(Exception, match="lock.*cannot be pickled to send it back"):
        next(result)


@pytest.mark.timeout(60)
def test_an_unobserved_failure_in_a_chunk_is_logged_once(
        pool: Pool, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="asynckit"):
        result = pool.map(f.reciprocal, [1, 0, 2, 0], chunksize=4)
        assert result.wait(30)
        assert pool.wait(30)
        del result
        gc.collect()
        gc.collect()
    logged = [record for record in caplog.records if record.exc_info
              and "task reciprocal x4 (a pool.map chunk) failed" in record.getMessage()]
    assert len(logged) == 1, caplog.text
    assert "1 more of the 4 calls" in caplog.text


@pytest.mark.timeout(60)
def test_close_cancels_the_chunks_that_have_not_left(one_process: Pool, tmp_path: Path) -> None:
    flag = str(tmp_path / "go")
    result = one_process.map(f.wait_for_file, [flag] * 80, [60] * 80, chunksize=2)
    chunks = parts(result)
    result.close()
    states = [state(part) for part in chunks]
    # At most PACKED_IN_FLIGHT chunks per process leave for the process pool.
    assert states.count("cancelled") >= 40 - PACKED_IN_FLIGHT, states
    (tmp_path / "go").touch()
    assert one_process.wait(60)
    with pytest.raises(asynckit.CancelledError):
        result.get()
    assert one_process.map(abs, [-1, -2], chunksize=2).get(30) == [1, 2]


@pytest.mark.timeout(60)
def test_a_timeout_ends_the_iteration_and_cancels_the_rest(one_process: Pool, tmp_path: Path) -> None:
    flag = str(tmp_path / "go")
    result = one_process.map(f.wait_for_file, [flag] * 80, [60] * 80, chunksize=2, timeout=0.5)
    with pytest.raises(TimeoutError, match="pool.map"):
        list(result)
    states = [state(part) for part in parts(result)]
    assert states.count("cancelled") >= 40 - PACKED_IN_FLIGHT, states
    (tmp_path / "go").touch()
    assert one_process.wait(60)


@pytest.mark.timeout(90)
def test_a_worker_that_dies_fails_its_chunk_naming_it_and_the_pool_goes_on() -> None:
    pool = Pool(2, backend="processes", name="packed-crash")
    try:
        assert pool.map(abs, [-1, -2], chunksize=2).get(60) == [1, 2]  # a warm pool
        victim = pool.map(f.kill_myself_if, [0, 1, 0, 0], chunksize=4)
        with pytest.raises(Exception, match="worker process died"):
            victim.get(60)
        assert pool.map(abs, [-1, -2, -3], chunksize=3).get(60) == [1, 2, 3]
    finally:
        pool.shutdown()


@pytest.mark.timeout(60)
def test_a_task_function_maps_with_its_own_options(pool: Pool, tmp_path: Path) -> None:
    # Each call as calling the task submits it: retried here (it raised a
    # PicklingError before: the wrapper itself was sent to the processes).
    flaky = pool.task(retries=1, retry_on=(ValueError,))(f.fail_once)
    assert list(pool.map(flaky, [str(tmp_path)] * 4, [1, 2, 3, 4], timeout=30)) == [1, 2, 3, 4]
    plain = pool.task(f.add)  # no options: packed like the function itself
    result = pool.map(plain, range(10), range(10), chunksize=5)
    assert [type(part) for part in parts(result)] == [ChunkValue, ChunkValue]
    assert result.get(30) == [2 * x for x in range(10)]


@pytest.mark.timeout(60)
def test_a_users_process_pool_packs_chunks_of_chunksize() -> None:
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context(start_method())
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as executor:
        pool = Pool(executor=executor, name="packed-users-ppe")
        result = pool.map(f.reciprocal, [1, 2, 4, 0, 5], chunksize=3)
        assert [type(part) for part in parts(result)] == [ChunkValue, ChunkValue]
        assert [next(result) for _ in range(3)] == [1.0, 0.5, 0.25]
        with pytest.raises(ZeroDivisionError):
            next(result)
        unchunked = pool.map(f.reciprocal, [1, 2])  # Executor.map: each call alone
        assert [type(part) for part in parts(unchunked)] == [asynckit.AsyncValue] * 2
        assert list(unchunked) == [1.0, 0.5]
        assert pool.wait(30)
        pool.shutdown()


@pytest.mark.timeout(60)
def test_a_break_once_the_map_result_is_dropped_cancels_the_rest(one_process: Pool, tmp_path: Path) -> None:
    flag = str(tmp_path / "go")
    paths = [str(tmp_path)] * 2 + [flag] * 78  # the first chunk returns at once
    result = one_process.map(f.wait_for_file, paths, [60] * 80, chunksize=2)
    chunks = parts(result)
    iteration = iter(result)
    del result  # as `for x in one_process.map(...)`: only the iteration is held
    for first in iteration:
        assert first is True
        break
    del iteration
    states = [state(part) for part in chunks]
    assert states[0] == "done"
    assert states.count("cancelled") >= 40 - PACKED_IN_FLIGHT - 1, states
    (tmp_path / "go").touch()
    assert one_process.wait(60)


@pytest.mark.timeout(60)
def test_after_an_error_or_close_the_iteration_has_ended(pool: Pool) -> None:
    failing = pool.map(f.reciprocal, [1, 0, 2, 4, 5, 6], chunksize=2)
    assert next(failing) == 1.0
    with pytest.raises(ZeroDivisionError):
        next(failing)
    assert list(failing) == []  # ended, as Executor.map's generator
    closed = pool.map(abs, range(-10, 0), chunksize=4)
    assert next(closed) == 10
    closed.close()
    assert list(closed) == []
    with pytest.raises(StopIteration):
        next(closed)
    assert pool.wait(30)
