"""Task functions for the processes, executor and Dask backend tests.

Worker processes import functions by reference (``_procfuncs.add``), so they
live here, at module top level, rather than inside the test modules.
"""

from __future__ import annotations

import os
import signal
import threading

from asynckit import Pool

#: A processes pool made at import, as a user's module would make one. A
#: worker process that imports this module makes it too; it starts no
#: processes until a task is submitted to it.
procpool = Pool(2, backend="processes", name="procfuncs")


def add(a: int, b: int) -> int:
    return a + b


def mul(a: int, b: int) -> int:
    return a * b


def pid() -> int:
    return os.getpid()


def pid_and(value: object) -> tuple[int, object]:
    return os.getpid(), value


def total(values: list[int], start: int = 0) -> int:
    return start + sum(values)


def fail(message: str) -> None:
    raise ValueError(message)


def missing(key: str) -> None:
    raise KeyError(key)


def exit_abruptly() -> None:
    os._exit(3)


def kill_myself() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def thread_name(value: object) -> tuple[str, object]:
    return threading.current_thread().name, value


def where() -> str:
    """The address of the Dask worker running this (raises outside a worker)."""
    import distributed

    return str(distributed.get_worker().address)


def where_and(value: object) -> tuple[str, object]:
    return where(), value


def with_key(key: str, priority: int) -> str:
    # keyword names that client.submit() itself takes
    return f"{key}:{priority}"


@procpool.task
def square(x: int) -> tuple[int, int]:
    """A decorated task: its module attribute is the wrapper, not this function."""
    return os.getpid(), x * x


class TwoArgumentError(Exception):
    """An exception that pickles but does not unpickle (its __init__ needs two)."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


def raise_two_argument_error() -> None:
    raise TwoArgumentError("this", "that")


def return_a_lock() -> object:
    return threading.Lock()


def wait_for_file(path: str, seconds: float) -> bool:
    """Runs until ``path`` exists or ``seconds`` pass (a task that stays running)."""
    import time

    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.path.exists(path)


def reciprocal(x: float) -> float:
    return 1 / x


def spin_forever() -> None:
    """A call that never returns (a CPU-bound loop, no sleep to interrupt)."""
    while True:
        pass


def hang_once(path: str) -> str:
    """Hangs the first time (it leaves ``path`` behind), returns the next time."""
    if not os.path.exists(path):
        open(path, "w").close()
        spin_forever()
    return "second try"


def fail_once(where: str, x: int) -> int:
    """Raises ValueError the first time for each ``x`` (it leaves a file behind)."""
    path = os.path.join(where, f"failed-{x}")
    if not os.path.exists(path):
        open(path, "w").close()
        raise ValueError(f"first try of {x}")
    return x


def record(where: str, x: int) -> int:
    """Leaves ``where/ran-x`` behind (proof that the call ran), then ``x // (x % 3)``
    (ZeroDivisionError for multiples of 3)."""
    open(os.path.join(where, f"ran-{x}"), "w").close()
    return x // (x % 3)


def lock_if_odd(x: int) -> object:
    """A result that does not pickle for odd ``x``."""
    return threading.Lock() if x % 2 else x


def kill_myself_if(x: int) -> int:
    if x:
        kill_myself()
    return x
