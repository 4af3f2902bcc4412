"""Memory stays flat (API.md §6): the pool holds no reference to a settled
value and drops a task's function and arguments as soon as it has run."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest

import asynckit
from asynckit import Pool


class Thing:
    """Something a weak reference can watch."""


class Function:
    def __call__(self, *args: Any, **kwargs: Any) -> Thing:
        return Thing()


@pytest.fixture
def pool() -> Any:
    pool = Pool(2)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.timeout(30)
def test_function_and_arguments_are_dropped_once_the_task_has_run(pool: Pool) -> None:
    arg, kwarg, fn = Thing(), Thing(), Function()
    watch: list[weakref.ref[Any]] = [weakref.ref(arg), weakref.ref(kwarg), weakref.ref(fn)]
    value = pool.do(fn, [arg], key={"k": kwarg})
    del arg, kwarg, fn
    assert value.wait(10)
    gc.collect()
    assert [ref() for ref in watch] == [None, None, None]
    assert isinstance(value, Thing)  # the value itself is still there


@pytest.mark.timeout(30)
def test_inputs_are_dropped_once_the_dependent_has_run(pool: Pool) -> None:
    first = pool.do(Function())
    result = weakref.ref(first.get(timeout=10))
    second = pool.do(lambda thing: 1, first)
    del first
    assert second.get(timeout=10) == 1
    gc.collect()
    assert result() is None, "the dependent still holds its input's result"


@pytest.mark.timeout(30)
def test_failed_task_drops_its_arguments(pool: Pool) -> None:
    arg = Thing()
    watch = weakref.ref(arg)

    def fail(thing: Thing) -> None:
        raise ValueError("no")

    value = pool.do(fail, arg)
    del arg
    assert value.wait(10) and value.is_error()
    # The traceback's frames hold the argument: a cycle, gone with the value.
    del value
    gc.collect()
    assert watch() is None


@pytest.mark.timeout(30)
def test_pool_keeps_nothing_once_values_have_settled(pool: Pool) -> None:
    results = []
    values = []
    for _ in range(50):
        value = pool.do(Thing)
        values.append(weakref.ref(value))
        results.append(weakref.ref(value.get(timeout=10)))
        del value
    assert pool.wait(10)
    gc.collect()
    assert [ref() for ref in values] == [None] * 50
    assert [ref() for ref in results] == [None] * 50
    assert pool.statistics()["unsettled"] == 0


@pytest.mark.timeout(30)
def test_fire_and_forget_values_are_freed_after_they_run(pool: Pool) -> None:
    made: list[weakref.ref[Thing]] = []
    lock = threading.Lock()

    def make() -> Thing:
        thing = Thing()
        with lock:
            made.append(weakref.ref(thing))
        return thing

    for _ in range(200):
        pool.do(make)
    asynckit.do(make)
    assert pool.wait(10) and asynckit.wait(10)
    gc.collect()
    assert len(made) == 201
    assert all(ref() is None for ref in made)


RSS_CHILD = """
    import gc, os, sys, asynckit

    def rss_mib():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def noop(x):
        return x

    def pair(x, y):
        return (x, y)

    pool = asynckit.Pool(4)
    batch = 20_000
    for round in range(10):
        for i in range(0, batch, 2):
            pool.do(pair, pool.do(noop, i), [i])  # forgotten, with a dependency
        assert pool.wait(60)
        gc.collect()
        if round == 0:
            first = rss_mib()
    print(first, rss_mib(), pool.statistics()["unsettled"])
"""


@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/statm")
def test_rss_stays_flat_over_200_000_fire_and_forget_tasks(tmp_path: Path) -> None:
    script = tmp_path / "rss.py"
    script.write_text(textwrap.dedent(RSS_CHILD))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=100, cwd=str(Path(__file__).resolve().parent.parent))
    assert done.returncode == 0, done.stderr
    first, last, unsettled = done.stdout.split()
    growth = float(last) - float(first)
    assert unsettled == "0"
    assert growth < 20, f"RSS grew {growth:.1f} MiB after the first 20,000 tasks"
