"""@pool.task(retries=, retry_on=, retry_delay=, limit=, name=)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import asynckit
from asynckit import Pool

pytestmark = pytest.mark.timeout(20)


class Flaky:
    """Raises ``error`` on the first ``failures`` calls, then returns the attempt number."""

    def __init__(self, failures: int, error: type[BaseException] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.attempts = 0
        self.lock = threading.Lock()

    def __call__(self) -> int:
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
        if attempt <= self.failures:
            raise self.error(f"attempt {attempt}")
        return attempt


# -- retries -----------------------------------------------------------------------


def test_retries_until_success(pool: Pool) -> None:
    flaky = Flaky(failures=2)
    call = pool.task(retries=3, retry_on=ConnectionError)(flaky)
    assert call().get(5) == 3
    assert flaky.attempts == 3


def test_retries_exhausted_raise_the_last_error(pool: Pool) -> None:
    flaky = Flaky(failures=10)
    value = pool.task(retries=2, retry_on=(ConnectionError,))(flaky)()
    with pytest.raises(ConnectionError, match="attempt 3"):
        value.get(5)
    assert flaky.attempts == 3  # the first call and two retries


def test_unlisted_exception_fails_at_once(pool: Pool) -> None:
    flaky = Flaky(failures=10, error=ValueError)
    value = pool.task(retries=5, retry_on=(KeyError, ConnectionError))(flaky)()
    with pytest.raises(ValueError, match="attempt 1"):
        value.get(5)
    assert flaky.attempts == 1


def test_retry_on_subclasses(pool: Pool) -> None:
    flaky = Flaky(failures=1, error=ConnectionResetError)
    assert pool.task(retries=1, retry_on=OSError)(flaky)().get(5) == 2


def test_default_retry_on_is_exception_not_base_exception(pool: Pool) -> None:
    flaky = Flaky(failures=1, error=KeyError)
    assert pool.task(retries=1)(flaky)().get(5) == 2

    class Stop(BaseException):
        pass

    stopper = Flaky(failures=1, error=Stop)
    with pytest.raises(Stop):
        pool.task(retries=3)(stopper)().get(5)
    assert stopper.attempts == 1


def test_retry_delay_backs_off_exponentially(pool: Pool, monkeypatch: Any) -> None:
    delays: list[float] = []
    original = pool._later

    def record(delay: float, node: Any) -> None:
        delays.append(delay)
        original(0.0, node)  # run the retry at once: no sleeping in tests

    monkeypatch.setattr(pool, "_later", record)
    flaky = Flaky(failures=3)
    assert pool.task(retries=3, retry_delay=0.5)(flaky)().get(5) == 4
    assert delays == [0.5, 1.0, 2.0]


def test_retry_with_a_real_delay_uses_the_timer(pool: Pool) -> None:
    flaky = Flaky(failures=2)
    assert pool.task(retries=2, retry_delay=0.01)(flaky)().get(5) == 3


def test_each_call_has_its_own_attempts(pool: Pool) -> None:
    counts: dict[int, int] = {}
    lock = threading.Lock()

    @pool.task(retries=1)
    def once_flaky(key: int) -> int:
        with lock:
            counts[key] = counts.get(key, 0) + 1
            if counts[key] == 1:
                raise RuntimeError("first try")
        return key

    assert asynckit.AsyncList([once_flaky(k) for k in range(5)]).get(5) == list(range(5))
    assert counts == {k: 2 for k in range(5)}


def test_a_retried_dependency_feeds_its_dependents(pool: Pool) -> None:
    flaky = Flaky(failures=1)
    first = pool.task(retries=1)(flaky)()
    assert pool.do(lambda x: x * 10, first).get(5) == 20


def test_a_retried_task_gets_its_inputs_again(pool: Pool) -> None:
    seen: list[list[int]] = []

    @pool.task(retries=2)
    def picky(values: list[int]) -> int:
        seen.append(values)
        if len(seen) < 3:
            raise RuntimeError("not yet")
        return sum(values)

    assert picky([pool.do(abs, -1), pool.do(abs, -2)]).get(5) == 3
    assert seen == [[1, 2]] * 3  # plain values on every attempt


def test_cancelled_during_the_retry_delay(pool: Pool, monkeypatch: Any) -> None:
    later: list[Any] = []
    asked = threading.Event()

    def retry_later(delay: float, node: Any) -> None:
        later.append(node)
        asked.set()

    monkeypatch.setattr(pool, "_later", retry_later)
    flaky = Flaky(failures=5)
    value = pool.task(retries=3, retry_delay=60)(flaky)()
    dependent = pool.do(abs, value)
    assert asked.wait(5)  # the first attempt failed and asked for a retry
    assert asynckit.state(value) == "held"  # waits for its retry delay
    assert asynckit.cancel(value)
    assert asynckit.state(dependent) == "cancelled"
    from asynckit.admission import start

    start(later[0])  # the timer firing late changes nothing
    assert asynckit.state(value) == "cancelled" and flaky.attempts == 1


# -- limit ---------------------------------------------------------------------------


def test_limit_caps_concurrent_calls(pool: Pool) -> None:
    lock = threading.Lock()
    running = 0
    most = 0
    two_running = threading.Event()
    gate = threading.Event()

    @pool.task(limit=2)
    def fetch(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 2:
                two_running.set()
        gate.wait(5)
        with lock:
            running -= 1
        return n

    values = [fetch(n) for n in range(6)]
    assert two_running.wait(5)
    # The other four are held by the limiter (not queued on a worker): they
    # cannot start until a slot is given back, so this snapshot is stable.
    states = sorted(asynckit.state(v) for v in values)
    assert states == ["held"] * 4 + ["running"] * 2
    gate.set()
    assert asynckit.AsyncList(values).get(5) == list(range(6))
    assert most == 2


def test_limit_does_not_block_workers_for_other_work() -> None:
    pool = Pool(worker_count=2)
    started = threading.Event()
    gate = threading.Event()
    calls = []

    @pool.task(limit=1)
    def f(n: int) -> int:
        calls.append(n)
        started.set()
        gate.wait(5)
        return n

    @pool.task
    def g() -> str:
        return "g ran"

    try:
        first = f(1)
        assert started.wait(5)
        second = f(2)  # waits for the limit: must not take the second worker
        assert g().get(5) == "g ran"  # the free worker runs unrelated work
        assert asynckit.state(second) == "held" and calls == [1]
        gate.set()
        assert (first.get(5), second.get(5)) == (1, 2)
    finally:
        gate.set()
        pool.shutdown()


def test_limited_retries_give_the_slot_back(pool: Pool) -> None:
    flaky = Flaky(failures=2)
    limited = pool.task(limit=1, retries=2)(flaky)
    other = pool.task(limit=1)(lambda: "other")
    values = [limited(), other()]
    assert asynckit.AsyncList(values).get(5) == [3, "other"]


def test_cancelling_a_held_call(pool: Pool) -> None:
    started = threading.Event()
    gate = threading.Event()

    @pool.task(limit=1)
    def slow(n: int) -> int:
        started.set()
        gate.wait(5)
        return n

    first = slow(1)
    assert started.wait(5)
    held = slow(2)
    third = slow(3)
    assert asynckit.cancel(held) is True
    gate.set()
    assert first.get(5) == 1 and third.get(5) == 3
    assert asynckit.state(held) == "cancelled"


# -- name and bad input -------------------------------------------------------------------


def test_name_labels_the_task(pool: Pool) -> None:
    gate = threading.Event()
    labelled = pool.task(name="fetch-page")(lambda url: gate.wait(5))
    value = labelled("u")
    assert "fetch-page" in repr(value)
    assert "fetch-page" in asynckit.to_dot(value)
    gate.set()
    value.wait(5)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"retries": -1}, ValueError),
        ({"retries": 1.5}, TypeError),
        ({"retries": True}, TypeError),
        ({"limit": 0}, ValueError),
        ({"limit": -3}, ValueError),
        ({"limit": 2.0}, TypeError),
        ({"retry_on": int}, TypeError),
        ({"retry_on": (ValueError, "KeyError")}, TypeError),
        ({"retry_on": [ValueError]}, TypeError),
        ({"retry_on": ValueError()}, TypeError),
        ({"retry_delay": -0.1}, ValueError),
        ({"retry_delay": "1s"}, TypeError),
        ({"name": 42}, TypeError),
    ],
)
def test_bad_options_fail_at_decoration_time(pool: Pool, options: dict[str, Any],
                                             error: type[Exception]) -> None:
    with pytest.raises(error):
        pool.task(**options)


def test_default_pool_task_takes_options() -> None:
    flaky = Flaky(failures=1)
    assert asynckit.task(retries=1)(flaky)().get(5) == 2
