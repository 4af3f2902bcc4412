"""CPython's own executor tests pass with a Pool as the executor (issue 13's "done when").

tests/cpython_executor_tests.py runs ExecutorTest, WaitTests,
AsCompletedTests and ExecutorShutdownTest from the running Python's
``test.test_concurrent_futures``, with the ThreadPoolExecutor tests that use
only public behaviour, in a fresh interpreter. Pythons whose build leaves
out the test suite (or, like 3.11, ship it as one module of another layout)
skip it; CI's 3.13 runs it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).resolve().parent / "cpython_executor_tests.py"


def _ships_the_tests() -> bool:
    try:
        return importlib.util.find_spec("test.test_concurrent_futures.executor") is not None
    except ImportError:
        return False


@pytest.mark.timeout(300)
@pytest.mark.skipif(not _ships_the_tests(),
                    reason="this Python does not ship test.test_concurrent_futures as a package")
def test_cpython_executor_tests_pass_with_a_pool() -> None:
    done = subprocess.run([sys.executable, str(DRIVER)], capture_output=True, text=True,
                          timeout=280)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    assert "FAILED" not in report and "unexpected success" not in report, report[-6000:]
    ran = [line for line in report.splitlines() if line.startswith("Ran ")]
    assert ran and int(ran[0].split()[1]) >= 25, report[-6000:]
