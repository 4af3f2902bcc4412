"""backend="processes": tasks run in worker processes, the graph stays here."""

from __future__ import annotations

import concurrent.futures
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import _procfuncs as f
import pytest

import asynckit
from asynckit import AsyncList, Pool, state


@pytest.fixture(scope="module")
def pool():
    """One processes pool for the module: worker processes are slow to start."""
    pool = Pool(2, backend="processes", name="processes-tests")
    yield pool
    pool.shutdown()


def executor_of(pool: Pool) -> concurrent.futures.ProcessPoolExecutor:
    return pool._backend.executor


@pytest.mark.timeout(60)
def test_a_dependency_graph_runs_in_worker_processes(pool: Pool) -> None:
    a = pool.do(f.add, 1, 2)
    b = pool.do(f.mul, a, 10)
    c = pool.do(f.add, a, b)
    both = pool.do(f.pid_and, [a, {"b": b}, (c,)])
    worker, value = both.get()
    assert value == [3, {"b": 30}, (33,)]
    assert c == 33
    assert worker != os.getpid()
    assert pool.wait(30)


@pytest.mark.timeout(60)
def test_the_start_method_is_safe_with_threads(pool: Pool) -> None:
    pool.do(f.add, 1, 1).get()
    method = executor_of(pool)._mp_context.get_start_method()
    assert method in ("forkserver", "spawn")


@pytest.mark.timeout(60)
def test_errors_keep_their_type_and_reach_dependents(pool: Pool) -> None:
    bad = pool.do(f.fail, "no good")
    after = pool.do(f.add, bad, 1)
    with pytest.raises(ValueError, match="no good"):
        bad.get()
    with pytest.raises(ValueError, match="no good"):
        after.get()
    assert state(after) == "failed"


@pytest.mark.timeout(60)
def test_asynclist_chain_and_wait(pool: Pool) -> None:
    values = AsyncList([pool.do(f.mul, n, n) for n in range(6)])
    summed = pool.do(f.total, values, start=100)
    chained = summed.chain(f.add, 1, 2)
    assert list(values) == [0, 1, 4, 9, 16, 25]
    assert summed == 155
    assert chained.get() == 3
    assert pool.wait(30)


@pytest.mark.timeout(60)
def test_map_keeps_input_order(pool: Pool) -> None:
    assert list(pool.map(f.add, range(5), range(5), timeout=30)) == [0, 2, 4, 6, 8]


@pytest.mark.timeout(60)
def test_a_decorated_function_runs_in_a_worker_process() -> None:
    values = [f.square(n) for n in range(4)]
    assert [v[1] for v in values] == [0, 1, 4, 9]
    assert all(v[0] != os.getpid() for v in values)
    assert f.procpool.wait(30)


@pytest.mark.timeout(30)
def test_a_lambda_fails_at_submission_naming_pickle(pool: Pool) -> None:
    with pytest.raises(pickle.PicklingError, match="pickle the function") as caught:
        pool.do(lambda: 1)
    assert "lambda" in str(caught.value)
    assert pool.wait(10)


@pytest.mark.timeout(30)
def test_a_local_function_fails_at_submission(pool: Pool) -> None:
    def local(x: int) -> int:
        return x

    with pytest.raises(pickle.PicklingError, match="pickle the function") as caught:
        pool.do(local, 1)
    assert "local" in str(caught.value)


@pytest.mark.timeout(30)
def test_a_lock_argument_fails_at_submission_naming_it(pool: Pool) -> None:
    with pytest.raises(pickle.PicklingError, match=r"pickle argument 2 \(lock\)"):
        pool.do(f.add, 1, threading.Lock())
    with pytest.raises(pickle.PicklingError, match=r"keyword argument 'start' \(lock\)"):
        pool.do(f.total, [1], start=threading.Lock())


@pytest.mark.timeout(30)
def test_an_unpicklable_task_that_waits_for_inputs_fails_at_submission(pool: Pool) -> None:
    first = pool.do(f.add, 1, 2)
    with pytest.raises(pickle.PicklingError, match="argument 2"):
        pool.do(f.add, first, threading.Lock())
    assert first == 3
    assert pool.wait(30)


@pytest.mark.timeout(30)
def test_an_unpicklable_dependency_result_fails_that_task_only(pool: Pool) -> None:
    threads = Pool(1)
    gate = threading.Event()

    def lock_later() -> threading.Lock:
        gate.wait(20)
        return threading.Lock()

    lock = threads.do(lock_later)
    using = pool.do(f.pid_and, lock)  # pending: its argument is not known yet
    gate.set()
    with pytest.raises(pickle.PicklingError, match="argument 1"):
        using.get()
    assert pool.do(f.add, 2, 2) == 4
    threads.shutdown()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("die", [f.exit_abruptly, f.kill_myself], ids=["os._exit", "SIGKILL"])
def test_a_dead_worker_fails_its_task_and_the_pool_serves_on(pool: Pool, die) -> None:
    before = pool.do(f.add, 1, 1).get()
    dead = pool.do(die)
    dependent = pool.do(f.add, dead, 1)
    with pytest.raises(concurrent.futures.process.BrokenProcessPool,
                       match="worker process died"):
        dead.get()
    with pytest.raises(concurrent.futures.process.BrokenProcessPool):
        dependent.get()
    # Later work runs in fresh worker processes.
    after = [pool.do(f.mul, n, 2) for n in range(4)]
    assert [v.get(30) for v in after] == [0, 2, 4, 6]
    assert before == 2
    assert pool.wait(30)


@pytest.mark.timeout(60)
def test_resize_and_shutdown_stop_the_worker_processes() -> None:
    pool = Pool(1, backend="processes")
    assert pool.do(f.add, 1, 2) == 3
    pool.worker_count = 2
    assert [v.get(30) for v in [pool.do(f.add, n, n) for n in range(3)]] == [0, 2, 4]
    executor = executor_of(pool)
    pool.shutdown()
    assert executor._shutdown_thread
    with pytest.raises(RuntimeError):
        pool.do(f.add, 1, 2)


@pytest.mark.timeout(60)
def test_pending_work_finishes_at_interpreter_exit() -> None:
    # concurrent.futures refuses new work once its own exit hook has run; the
    # backend's hook runs first, so a script that never waits still finishes.
    code = ("from asynckit import Pool\n"
            "pool = Pool(1, backend='processes')\n"
            "first = pool.do(pow, 2, 10)\n"
            "pool.do(print, 'from a worker:', first)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "from a worker: 1024"


@pytest.mark.timeout(60)
def test_an_exception_that_cannot_travel_back_is_named_not_a_dead_worker(pool: Pool) -> None:
    with pytest.raises(RuntimeError, match="TwoArgumentError: this and that") as caught:
        pool.do(f.raise_two_argument_error).get(30)
    assert "BrokenProcessPool" not in repr(caught.value)
    assert pool.do(f.add, 1, 2).get(30) == 3  # no worker died


@pytest.mark.timeout(60)
def test_a_result_that_cannot_be_pickled_says_it_is_the_result(pool: Pool) -> None:
    with pytest.raises(pickle.PicklingError, match="result, a _thread.lock"):
        pool.do(f.return_a_lock).get(30)
    assert pool.do(f.add, 2, 2).get(30) == 4


@pytest.mark.timeout(90)
def test_a_script_without_a_main_guard_is_told_why_its_workers_die(tmp_path: Path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text("import asynckit\n"
                      "pool = asynckit.Pool(1, backend='processes')\n"
                      "print(pool.do(abs, -3).get(60))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=80, cwd=tmp_path)
    assert done.returncode != 0
    assert 'has no `if __name__ == "__main__":` guard' in done.stderr, done.stderr[-2000:]


@pytest.mark.timeout(90)
def test_a_dead_worker_fails_only_the_calls_handed_to_worker_processes() -> None:
    # One worker process: the dying call and the one queued behind it have
    # been handed to the process pool's call queue; the others wait in
    # asynckit's executor queue, never started, and run in the fresh pool.
    pool = Pool(1, backend="processes")
    try:
        assert pool.do(f.add, 0, 0).get(30) == 0  # the worker process is up
        dead = pool.do(f.kill_myself)
        later = [pool.do(f.mul, n, 2) for n in range(8)]
        with pytest.raises(concurrent.futures.process.BrokenProcessPool):
            dead.get(30)
        outcomes = [asynckit.exception(value, 30) for value in later]
        failed = [error for error in outcomes if error is not None]
        assert len(failed) <= 2, failed  # at most worker_count + 1 were in flight
        assert [v.get() for v, e in zip(later, outcomes, strict=True) if e is None] == \
            [n * 2 for n, e in zip(range(8), outcomes, strict=True) if e is None]
        assert pool.wait(30)
    finally:
        pool.shutdown()


# -- map chunks -----------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_map_with_chunksize_sends_each_chunk_as_one_call(pool: Pool) -> None:
    results = list(pool.map(f.pid_and, range(6), chunksize=3, timeout=30))
    assert [value for _, value in results] == list(range(6))
    pids = [worker for worker, _ in results]
    assert len(set(pids[:3])) == 1 and len(set(pids[3:])) == 1  # one process per chunk


@pytest.mark.timeout(60)
def test_a_failure_in_a_chunk_fails_its_own_item_only(pool: Pool) -> None:
    results = pool.map(f.reciprocal, [1, 2, 0, 4], chunksize=4, timeout=30)
    assert next(results) == 1.0
    assert next(results) == 0.5
    with pytest.raises(ZeroDivisionError):
        next(results)
    # The chunk's other calls ran and settled with their own results.
    assert list(pool.map(f.reciprocal, [4, 5], chunksize=2, timeout=30)) == [0.25, 0.2]


@pytest.mark.timeout(60)
def test_map_without_chunksize_chunks_by_default_and_keeps_order(pool: Pool) -> None:
    assert list(pool.map(f.add, range(1000), range(1000), timeout=30)) == \
        [2 * n for n in range(1000)]
    assert list(pool.map(f.add, iter(range(300)), iter(range(300)), timeout=30)) == \
        [2 * n for n in range(300)]


@pytest.mark.timeout(60)
def test_an_unpicklable_item_in_a_chunk_fails_at_the_call_naming_it(pool: Pool) -> None:
    with pytest.raises(pickle.PicklingError, match=r"argument 1 \(lock\)"):
        pool.map(f.pid_and, [1, threading.Lock(), 3], chunksize=3)
    assert pool.wait(30)


# -- timeouts ------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_call_past_its_timeout_fails_and_the_others_are_not_lost(tmp_path: Path) -> None:
    pool = Pool(2, backend="processes")
    try:
        flag = tmp_path / "go"
        # In flight on the other process when the hung one is ended (or
        # still waiting): either way it must get its own result.
        other = pool.do(f.wait_for_file, str(flag), 60)
        hung = pool.task(timeout=1)(f.spin_forever)()
        dependent = pool.do(f.add, hung, 1)
        with pytest.raises(TimeoutError, match=r"spin_forever.*timeout of 1 s"):
            hung.get(60)
        with pytest.raises(TimeoutError):
            dependent.get(60)
        flag.touch()
        assert other.get(60) is True
        assert [pool.do(f.add, n, 1).get(60) for n in range(3)] == [1, 2, 3]
        assert pool.wait(60)
    finally:
        pool.shutdown()


@pytest.mark.timeout(120)
def test_a_timed_out_call_is_retried_with_timeout_error_in_retry_on(tmp_path: Path) -> None:
    pool = Pool(2, backend="processes")
    try:
        once = pool.task(timeout=1, retries=1, retry_on=(TimeoutError,))(f.hang_once)
        assert once(str(tmp_path / "hung")).get(60) == "second try"
        plain = pool.task(timeout=1)(f.hang_once)
        with pytest.raises(TimeoutError):
            plain(str(tmp_path / "hangs-again")).get(60)
        assert pool.wait(60)
    finally:
        pool.shutdown()


@pytest.mark.timeout(60)
def test_fast_timed_calls_are_untouched(pool: Pool) -> None:
    double = pool.task(timeout=30)(f.mul)
    assert AsyncList([double(n, 2) for n in range(50)]).get(30) == [2 * n for n in range(50)]


@pytest.mark.timeout(60)
def test_retries_and_limit_work_per_call_inside_batches(pool: Pool, tmp_path: Path) -> None:
    flaky = pool.task(retries=1, retry_on=(ValueError,))(f.fail_once)
    where = str(tmp_path)
    assert [v.get(30) for v in [flaky(where, n) for n in range(40)]] == list(range(40))
    once = pool.task(limit=1)(f.pid_and)
    assert [v.get(30)[1] for v in [once(n) for n in range(10)]] == list(range(10))
