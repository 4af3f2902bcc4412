"""``@pool.task(rate=..., burst=..., key=...)``: calls start at most that often,
per key; waiting calls are HELD (no worker), woken by the pool's timer."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import asynckit
from asynckit import Pool, gates
from asynckit.gates import Gate
from asynckit.node import HELD, Node


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _held() -> Node:
    node = Node(None, None, None, (), None, None, None)
    node.state = HELD
    return node


def test_a_bucket_lets_burst_through_then_one_per_interval(monkeypatch: Any) -> None:
    clock = FakeClock()
    monkeypatch.setattr(gates, "clock", clock)
    woken: list[float] = []
    gate = Gate(None, 2.0, 3, lambda delay, g: woken.append(delay))  # 2/s, burst 3
    nodes = [_held() for _ in range(6)]
    through = [n for node in nodes for n in gate.admit(node)]
    assert through == nodes[:3]  # the burst
    assert woken == [pytest.approx(0.5)]  # one wake-up asked for, when a token is due
    assert gate.wake() == []  # woken early (no time passed): nothing, and no second ask...
    assert woken == [pytest.approx(0.5), pytest.approx(0.5)]  # ...but a new one
    clock.now += 0.5
    assert gate.wake() == [nodes[3]]
    clock.now += 1.0  # two tokens more
    assert gate.wake() == nodes[4:]
    clock.now += 100  # refills to the burst, never beyond
    more = [_held() for _ in range(4)]
    assert [n for node in more for n in gate.admit(node)] == more[:3]


def test_a_limit_and_a_rate_together(monkeypatch: Any) -> None:
    clock = FakeClock()
    monkeypatch.setattr(gates, "clock", clock)
    gate = Gate(1, 10.0, 5, lambda delay, g: None)
    first, second = _held(), _held()
    assert gate.admit(first) == [first]
    assert gate.admit(second) == []  # a token is there, the slot is not
    assert gate.release() == [second]


def test_starts_never_exceed_the_bucket_in_any_window() -> None:
    # 50 calls at 20/s, burst 1: the k-th start comes (k - 1) / 20 s after
    # the first at the earliest. Starts are stamped in the task, so a start
    # may come late, never early; one start of slack absorbs scheduling.
    rate, count = 20.0, 50
    starts: list[float] = []
    with Pool(worker_count=8) as pool:
        @pool.task(rate="20/s")
        def call(n: int) -> int:
            starts.append(time.monotonic())
            return n

        assert asynckit.AsyncList([call(n) for n in range(count)]).get(30) == \
            list(range(count))
    starts.sort()
    for i in range(count):
        for j in range(i + 1, count):
            window = starts[j] - starts[i]
            assert j - i + 1 <= 1 + rate * window + 1, (i, j, window)
    assert starts[-1] - starts[0] >= (count - 1) / rate * 0.9


def test_a_call_waiting_for_a_token_holds_no_worker() -> None:
    with Pool(worker_count=1) as pool:
        @pool.task(rate="1/h")
        def polite(n: int) -> int:
            return n

        first = polite(1)
        second = polite(2)  # the next token is an hour away
        assert first.get(5) == 1
        assert pool.do(lambda: "the one worker is free").get(5) == "the one worker is free"
        assert asynckit.state(second) == "held"
        assert "held" in repr(second)
        assert "orange" in asynckit.to_dot(second)
        assert asynckit.cancel(second)
        assert asynckit.state(second) == "cancelled"


def test_a_rate_is_woken_by_the_timer() -> None:
    with Pool(worker_count=2) as pool:
        @pool.task(rate=100, burst=2)  # a number: per second
        def call(n: int) -> int:
            return n

        assert asynckit.AsyncList([call(n) for n in range(20)]).get(10) == list(range(20))


def test_rate_with_retries_and_limit() -> None:
    attempts: dict[int, int] = {}

    with Pool(worker_count=4) as pool:
        @pool.task(rate="200/s", limit=2, retries=2)
        def flaky(n: int) -> int:
            attempts[n] = attempts.get(n, 0) + 1
            if attempts[n] < 2:
                raise ConnectionError("again")
            return n

        assert asynckit.AsyncList([flaky(n) for n in range(10)]).get(10) == list(range(10))
    assert attempts == {n: 2 for n in range(10)}


def test_async_tasks_take_rates_too() -> None:
    with Pool() as pool:
        @pool.task(rate="1/h", key=lambda host: host)
        async def fetch(host: str) -> str:
            return host

        a, b, again = fetch("a"), fetch("b"), fetch("a")
        assert (a.get(5), b.get(5)) == ("a", "b")  # two keys: a token each
        assert asynckit.state(again) == "held"
        asynckit.cancel(again)


def test_each_key_has_its_own_limit() -> None:
    both = threading.Barrier(2, timeout=5)
    running = {"x": threading.Event(), "y": threading.Event()}
    release = threading.Event()

    with Pool(worker_count=4) as pool:
        @pool.task(limit=1, key=lambda host, n: host)
        def fetch(host: str, n: int) -> str:
            if n == 1:
                both.wait()  # x and y run at once: one slot each
                running[host].set()
                release.wait(5)
            return f"{host}{n}"

        x1, y1, x2 = fetch("x", 1), fetch("y", 1), fetch("x", 2)
        assert running["x"].wait(5) and running["y"].wait(5)
        assert asynckit.state(x2) == "held"  # x's one slot is taken
        release.set()
        assert (x1.get(5), y1.get(5), x2.get(5)) == ("x1", "y1", "x2")


def test_a_key_function_that_raises_fails_that_call_only() -> None:
    with Pool() as pool:
        @pool.task(rate="1000/s", key=lambda url: url.split("/")[2])
        def fetch(url: str) -> str:
            return url

        good = fetch("http://a/x")
        bad = fetch("no-host")
        assert good.get(5) == "http://a/x"
        with pytest.raises(IndexError):
            bad.get(5)
        dependent = pool.do(len, bad)
        with pytest.raises(IndexError):
            dependent.get(5)


def test_an_unhashable_key_is_named() -> None:
    with Pool() as pool:
        @pool.task(limit=1, key=lambda items: items)
        def count(items: list[int]) -> int:
            return len(items)

        with pytest.raises(TypeError, match=r"key= function of .*count returned an unhashable list: \[1, 2\]"):
            count([1, 2]).get(5)


def test_the_key_sees_plain_arguments() -> None:
    seen: list[Any] = []
    with Pool() as pool:
        @pool.task(limit=2, key=lambda value: seen.append(type(value)) or value)
        def echo(value: int) -> int:
            return value

        assert echo(pool.do(abs, -3)).get(5) == 3
    assert seen == [int]


def test_idle_keys_do_not_pile_up(monkeypatch: Any) -> None:
    clock = FakeClock()
    monkeypatch.setattr(gates, "clock", clock)
    with Pool(worker_count=2) as pool:
        @pool.task(limit=1, key=lambda n: n)
        def limited(n: int) -> int:
            return n

        @pool.task(rate="1000/s", key=lambda n: n)
        def rated(n: int) -> int:
            return n

        for batch in range(5):
            keys = range(batch * 4000, (batch + 1) * 4000)
            assert asynckit.AsyncList([limited(k) for k in keys]).get(30)[-1] == keys[-1]
            assert asynckit.AsyncList([rated(k) for k in keys]).get(30)[-1] == keys[-1]
            clock.now += 10  # every bucket refills
        # A gate with nothing running is dropped at once when its bucket is
        # full (always, with a limit alone); else at the next sweep.
        assert len(limited._self_call[2].keyed.gates) == 0
        assert len(rated._self_call[2].keyed.gates) <= 2 * 4000 + 1024


@pytest.mark.parametrize(("options", "error", "match"), [
    ({"timeout": 0}, ValueError, r"timeout must be seconds > 0.*timeout=30"),
    ({"timeout": -1}, ValueError, "timeout must be seconds > 0"),
    ({"timeout": float("nan")}, ValueError, "timeout must be seconds > 0"),
    ({"timeout": "5"}, TypeError, "timeout must be seconds"),
    ({"timeout": True}, TypeError, "timeout must be seconds"),
    ({"rate": "10/fortnight"}, ValueError, r"rate '10/fortnight' does not parse.*100/m"),
    ({"rate": "-1/s"}, ValueError, "rate must be more than 0"),
    ({"rate": 0}, ValueError, "rate must be more than 0"),
    ({"rate": "ten/s"}, ValueError, "does not parse"),
    ({"rate": [10]}, TypeError, "rate must be a str or a number"),
    ({"rate": "5/s", "burst": 0}, ValueError, "burst must be >= 1"),
    ({"rate": "5/s", "burst": 1.5}, TypeError, "burst must be an int"),
    ({"burst": 3}, ValueError, "burst=3 needs a rate"),
    ({"limit": 2, "key": "host"}, TypeError, r"key must be a function.*key=lambda"),
    ({"key": len}, ValueError, "key= applies limit= and rate= per key"),
    ({"rates": "5/s"}, TypeError, "unknown option 'rates'"),
])
def test_bad_options_fail_at_decoration(options: dict[str, Any], error: type[Exception],
                                        match: str) -> None:
    with Pool() as pool:
        with pytest.raises(error, match=match):
            pool.task(**options)(abs)
        with pytest.raises(error, match=match):
            pool.task(**options)  # without the function too: at once


@pytest.mark.parametrize(("rate", "per_second"), [
    ("10/s", 10.0), ("100/m", 100 / 60), ("3600/h", 1.0), ("2.5", 2.5), (7, 7.0), (0.5, 0.5),
])
def test_rate_notations(rate: Any, per_second: float) -> None:
    with Pool() as pool:
        fn = pool.task(rate=rate)(abs)
        assert fn._self_call[2].limiter.rate == pytest.approx(per_second)
