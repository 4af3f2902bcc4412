"""executor=...: any concurrent.futures.Executor runs the tasks; bad input fails at once."""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import pickle
import subprocess
import sys
import threading

import _procfuncs as f
import pytest

from asynckit import AsyncList, Pool
from asynckit.backends.executor import start_method


@pytest.mark.timeout(30)
def test_a_thread_pool_executor_runs_the_graph() -> None:
    with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="theirs") as executor:
        pool = Pool(executor=executor)
        a = pool.do(f.thread_name, 1)
        b = pool.do(f.thread_name, a)
        name, (inner_name, value) = b.get()
        assert name.startswith("theirs") and inner_name.startswith("theirs")
        assert value == 1
        assert AsyncList([pool.do(f.add, n, 1) for n in range(3)]) == [1, 2, 3]
        assert pool.wait(10)


@pytest.mark.timeout(30)
def test_errors_keep_their_type() -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        pool = Pool(executor=executor)
        bad = pool.do(f.missing, "k")
        with pytest.raises(KeyError):
            bad.get()
        with pytest.raises(KeyError):
            pool.do(f.add, bad, 1).get()


@pytest.mark.timeout(30)
def test_chain_decorator_and_wait() -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        pool = Pool(executor=executor)
        order: list[str] = []

        @pool.task
        def record(word: str, *after: object) -> str:
            order.append(word)
            return word

        first = record("first")
        second = record("second", first)  # a dependency: runs after first
        second.chain(record, "cleanup")
        assert pool.wait(10)
        assert order == ["first", "second", "cleanup"]


@pytest.mark.timeout(30)
def test_shutdown_leaves_a_users_executor_open() -> None:
    executor = concurrent.futures.ThreadPoolExecutor(1)
    pool = Pool(executor=executor)
    assert pool.do(f.add, 1, 2) == 3
    pool.shutdown()
    assert executor.submit(f.add, 2, 2).result(10) == 4
    executor.shutdown()


@pytest.mark.timeout(60)
def test_a_users_process_pool_executor_checks_pickling_at_submission() -> None:
    context = multiprocessing.get_context(start_method())
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as executor:
        pool = Pool(executor=executor)
        assert pool.do(f.mul, pool.do(f.add, 1, 2), 2) == 6
        with pytest.raises(pickle.PicklingError, match="pickle the function"):
            pool.do(lambda: 0)
        assert pool.wait(30)


# -- bad input ---------------------------------------------------------------------------


def test_an_unknown_backend_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="'threads'.*'processes'.*'dask'"):
        Pool(backend="gpu")


def test_executor_with_client_is_refused() -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        with pytest.raises(ValueError, match="executor=.*client="):
            Pool(executor=executor, client=object())


def test_executor_with_another_backend_is_refused() -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        with pytest.raises(ValueError, match="valid choices"):
            Pool(backend="processes", executor=executor)


def test_an_executor_must_be_an_executor() -> None:
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        Pool(executor=object())


def test_dask_without_distributed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ImportError, match=r"asynckit\[dask\]"):
        Pool(backend="dask", address="tcp://127.0.0.1:1")


@pytest.mark.timeout(60)
def test_importing_asynckit_imports_no_dask() -> None:
    code = ("import sys, asynckit; from asynckit import Pool; "
            "Pool(2, backend='processes'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.timeout(30)
def test_map_with_chunksize_on_a_users_executor() -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        pool = Pool(executor=executor)
        results = list(pool.map(f.thread_name, range(4), chunksize=2, timeout=10))
        assert [value for _, value in results] == [0, 1, 2, 3]
        assert results[0][0] == results[1][0] and results[2][0] == results[3][0]
        assert list(pool.map(f.reciprocal, [1, 2], chunksize=2)) == [1.0, 0.5]
        with pytest.raises(ZeroDivisionError):
            list(pool.map(f.reciprocal, [1, 0], chunksize=2))


@pytest.mark.timeout(30)
def test_a_users_executor_fails_a_call_at_its_deadline_and_discards_it_later(
        caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        pool = Pool(executor=executor)

        @pool.task(timeout=0.2)
        def stuck() -> str:
            release.wait(20)
            return "late"

        value = stuck()
        dependent = pool.do(f.add, value, 1)
        after = pool.do(f.add, 1, 2)  # queued behind it in the executor
        with caplog.at_level(logging.DEBUG, logger="asynckit"):
            with pytest.raises(TimeoutError, match=r"stuck.*timeout of 0.2 s"):
                value.get(10)
            with pytest.raises(TimeoutError):
                dependent.get(10)
            release.set()
            assert after.get(10) == 3  # the executor's one thread finished stuck first
            assert pool.wait(10)
        assert "timed out after 0.2 s and finished later" in caplog.text


@pytest.mark.timeout(30)
def test_a_timeout_on_another_executor_counts_from_submission() -> None:
    release = threading.Event()

    class Plain(concurrent.futures.Executor):
        """An executor that is not a ThreadPoolExecutor: one thread per call."""

        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            future: concurrent.futures.Future[object] = concurrent.futures.Future()

            def run() -> None:
                if future.set_running_or_notify_cancel():
                    future.set_result(fn(*args, **kwargs))

            threading.Thread(target=run, daemon=True).start()
            return future

    pool = Pool(executor=Plain())

    @pool.task(timeout=0.2, retries=1, retry_on=(TimeoutError,))
    def stuck() -> str:
        release.wait(20)
        return "done"

    value = stuck()
    with pytest.raises(TimeoutError):
        value.get(10)  # both tries ran past 0.2 s
    release.set()
    assert pool.wait(10)
