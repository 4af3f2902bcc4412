"""CPython's own executor tests, run unchanged with asynckit's Pool as the executor.

``python tests/cpython_executor_tests.py`` (tests/test_cpython_executor.py
runs it when the running Python ships ``test.test_concurrent_futures``, as
3.12 and newer builds that keep their test suite do). The test classes are
CPython's, untouched; only the executor type is ours: ``PoolExecutor``
takes ThreadPoolExecutor's ``max_workers`` and is otherwise a plain Pool.

Left out, each for a reason that is not about public behaviour:

- tests that read ThreadPoolExecutor's private ``_threads`` (thread reuse,
  saturation, thread names, threads terminating);
- tests that start a fresh interpreter importing the executor by name from
  ``concurrent.futures`` (``from concurrent.futures import {executor_type}``);
- test_hang_global_shutdown_lock, which tests ThreadPoolExecutor's own
  lock across fork whatever the executor under test is.
"""

from __future__ import annotations

import sys
import unittest
from typing import Any

from asynckit import Pool

try:
    from test.test_concurrent_futures import (  # type: ignore[import-not-found]
        executor,
        test_as_completed,
        test_shutdown,
        test_thread_pool,
        test_wait,
        util,
    )
except ImportError:  # pragma: no cover - a Python without its test suite
    print("SKIP: this Python does not ship test.test_concurrent_futures")
    sys.exit(0)


class PoolExecutor(Pool):
    """A Pool with ThreadPoolExecutor's constructor: ``max_workers`` is ``worker_count``."""

    def __init__(self, max_workers: int | None = None, thread_name_prefix: str = "",
                 initializer: Any = None, initargs: tuple[Any, ...] = ()) -> None:
        if initializer is not None:
            raise TypeError("PoolExecutor takes no initializer")
        super().__init__(max_workers=max_workers, name=thread_name_prefix or None)


class PoolMixin(util.ExecutorMixin):  # type: ignore[misc]
    executor_type = PoolExecutor


PRIVATE_OR_BY_NAME = {
    "test_saturation", "test_idle_thread_reuse", "test_hang_global_shutdown_lock",
    "test_interpreter_shutdown", "test_submit_after_interpreter_shutdown",
    "test_hang_gh83386", "test_threads_terminate", "test_context_manager_shutdown",
    "test_del_shutdown", "test_shutdown_no_wait", "test_thread_names_assigned",
    "test_thread_names_default", "test_cancel_futures_wait_false",
}

#: Run, and expected to fail, for the reason given (unittest.expectedFailure:
#: should one start to pass, the run says so). None today.
EXPECTED_FAILURES: set[str] = set()

CASES = {
    "ExecutorTest": (executor.ExecutorTest, test_thread_pool.ThreadPoolExecutorTest),
    "WaitTests": (test_wait.WaitTests, test_wait.ThreadPoolWaitTests),
    "AsCompletedTests": (test_as_completed.AsCompletedTests,),
    "ExecutorShutdownTest": (test_shutdown.ExecutorShutdownTest,
                             test_shutdown.ThreadPoolShutdownTest),
}


def suite() -> unittest.TestSuite:
    tests = unittest.TestSuite()
    loader = unittest.TestLoader()
    for name, (mixin, *thread_pool_case) in CASES.items():
        # The ThreadPoolExecutor case's own tests, on top of the shared ones,
        # through its class dict (its bases bring ThreadPoolExecutor back).
        extra = {key: value for case in thread_pool_case
                 for key, value in vars(case).items() if key.startswith("test_")}
        for test_name in EXPECTED_FAILURES:
            method = extra.get(test_name, getattr(mixin, test_name, None))
            if method is not None:
                extra[test_name] = unittest.expectedFailure(method)
        case = type(f"Pool{name}", (PoolMixin, mixin, util.BaseTestCase),
                    {"__module__": __name__, **extra})
        for test_name in loader.getTestCaseNames(case):
            if test_name not in PRIVATE_OR_BY_NAME:
                tests.addTest(case(test_name))
    return tests


def main() -> None:
    util.setup_module()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite())
    unittest.case.doModuleCleanups()
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
