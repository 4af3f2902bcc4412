"""executor=...: any concurrent.futures.Executor runs the tasks; bad input fails at once."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import pickle
import subprocess
import sys

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
