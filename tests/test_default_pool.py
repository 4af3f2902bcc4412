"""The default pool behind asynckit.task / asynckit.do / asynckit.wait."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import asynckit


def run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.timeout(40)
def test_a_script_with_only_task_and_wait() -> None:
    done = run("""
        import asynckit

        @asynckit.task
        def square(x):
            return x * x

        @asynckit.task
        def total(values):
            print("total", sum(values))

        total([square(n) for n in range(10)])
        print("waited", asynckit.wait())
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["total 285", "waited True"]
    assert done.stderr == ""


@pytest.mark.timeout(40)
def test_import_alone_starts_no_thread_and_wait_is_free() -> None:
    done = run("""
        import threading
        import asynckit
        from asynckit import lifecycle
        print(threading.active_count(), lifecycle.default_if_made() is None)
        print(asynckit.wait(), lifecycle.default_if_made() is None)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["1 True", "True True"]


@pytest.mark.timeout(40)
def test_pending_default_pool_work_finishes_at_exit() -> None:
    done = run("""
        import threading
        import asynckit
        gate = threading.Event()
        asynckit.do(lambda: (gate.wait(10), print("finished")))
        asynckit.do(gate.set)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "finished\n"


@pytest.mark.timeout(10)
def test_do_and_task_share_one_default_pool() -> None:
    from asynckit.pool import default_pool

    value = asynckit.do(abs, -3)
    assert value.get(5) == 3
    assert value._self_task.pool is default_pool()
    double = asynckit.task(lambda x: x * 2)
    assert double(value).get(5) == 6
    assert asynckit.wait(5) is True
