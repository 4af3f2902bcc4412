"""async def tasks: coroutines on the pool's event loop (asynckit/backends/loop.py)."""

from __future__ import annotations

import asyncio
import contextvars
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import asynckit
from asynckit import AsyncList, AsyncValue, CancelledError, Pool


@pytest.fixture
def pool():
    pool = Pool(worker_count=2)
    yield pool
    pool.shutdown(cancel_futures=True)


def loop_threads(pool: Pool) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{pool.name}-loop")]


def run_script(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=50, env={**os.environ, **env})


# -- thousands at once, on a handful of threads --------------------------------


@pytest.mark.timeout(30)
def test_a_thousand_coroutines_run_at_once_on_a_handful_of_threads(pool: Pool) -> None:
    count = 1000
    in_flight = 0
    most = 0
    threads_seen: set[int] = set()
    all_in = asyncio.Event()

    @pool.task
    async def fetch(n: int) -> int:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        threads_seen.add(threading.active_count())
        if in_flight == count:
            all_in.set()
        await all_in.wait()  # only returns once every task is in flight at once
        await asyncio.sleep(0.2)
        in_flight -= 1
        return n * 2

    before = threading.active_count()
    values = [fetch(n) for n in range(count)]
    assert all(isinstance(v, AsyncValue) for v in values)
    assert AsyncList(values).get() == [n * 2 for n in range(count)]
    assert most == count
    # main + the loop thread (+ whatever other tests left behind): no thread per task
    assert max(threads_seen) <= before + 2
    assert len(loop_threads(pool)) == 1


# -- dependencies in every direction -------------------------------------------


@pytest.mark.timeout(20)
def test_async_and_threaded_tasks_feed_each_other(pool: Pool) -> None:
    @pool.task
    async def aadd(a: int, b: int) -> int:
        await asyncio.sleep(0)
        assert not isinstance(a, AsyncValue) and not isinstance(b, AsyncValue)
        return a + b

    @pool.task
    def tadd(a: int, b: int) -> int:
        assert not isinstance(a, AsyncValue) and not isinstance(b, AsyncValue)
        return a + b

    x = aadd(1, 2)                       # async
    y = tadd(x, 10)                      # threaded takes async
    z = aadd(y, 100)                     # async takes threaded
    both = AsyncList([x, y, z, 7])       # a mixed list
    total = pool.do(sum, both)           # threaded takes the list
    again = aadd(total, both)            # async takes both; AsyncList as an argument
    assert z.get() == 113
    assert both.get() == [3, 13, 113, 7]
    assert total.get() == 3 + 13 + 113 + 7
    with pytest.raises(TypeError):       # int + list, raised inside the coroutine
        again.get()
    assert pool.do(aadd, {"k": [x]}["k"][0], z).get() == 116   # pool.do with a coroutine fn
    assert asynckit.state(z) == "done"


@pytest.mark.timeout(20)
def test_results_flatten_both_ways(pool: Pool) -> None:
    @pool.task
    async def slow(n: int) -> int:
        await asyncio.sleep(0.01)
        return n

    @pool.task
    def threaded(n: int) -> int:
        return n + 1

    @pool.task
    async def returns_threaded(n: int) -> AsyncValue[int]:
        return threaded(n)

    @pool.task
    def returns_async(n: int) -> AsyncValue[int]:
        return slow(n)

    @pool.task
    async def fib(n: int) -> int | AsyncValue[int]:
        if n < 2:
            return n
        return pool.do(lambda a, b: a + b, fib(n - 1), fib(n - 2))

    assert returns_threaded(1).get() == 2
    assert returns_async(5).get() == 5
    assert fib(12).get() == 144


@pytest.mark.timeout(20)
def test_await_any_value_inside_a_coroutine_task(pool: Pool) -> None:
    gate = threading.Event()

    @pool.task
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return 2 * n

    @pool.task
    def threaded(n: int) -> int:
        gate.wait(10)
        return n + 1

    @pool.task
    async def main() -> tuple[int, int, list[int], int]:
        a = double(3)                    # same loop: resolved without a thread hop
        b = threaded(a)                  # a worker thread settles it
        c = AsyncList([a, b, double(b)])
        gate.set()
        first = await a
        second = await b
        assert not isinstance(first, AsyncValue) and not isinstance(second, AsyncValue)
        return first, second, await c, await a   # awaiting a settled value again

    assert main().get() == (6, 7, [6, 7, 14], 6)


@pytest.mark.timeout(20)
def test_a_threaded_task_may_block_on_an_async_value_with_one_worker() -> None:
    pool = Pool(worker_count=1)
    try:
        @pool.task
        async def later(n: int) -> int:
            await asyncio.sleep(0.01)
            return n

        @pool.task
        def waits() -> int:
            return later(1).get() + later(2) * 10   # a worker blocks: no deadlock

        assert waits().get() == 21
    finally:
        pool.shutdown()


# -- the user's own event loop ---------------------------------------------------


@pytest.mark.timeout(20)
def test_awaiting_from_the_users_own_asyncio_run(pool: Pool) -> None:
    @pool.task
    async def square(n: int) -> int:
        await asyncio.sleep(0.01)
        return n * n

    @pool.task
    def threaded(n: int) -> int:
        return n + 1

    async def main() -> tuple[list[int], int, int]:
        loop = asyncio.get_running_loop()
        values = [square(n) for n in range(20)]    # called inside a running loop
        plain = await asyncio.gather(*values)       # AsyncValues are awaitables
        both = await threaded(square(3))
        ran_here = await loop.run_in_executor(pool, threaded, 41)   # Pool is an Executor
        return plain, both, ran_here

    plain, both, ran_here = asyncio.run(main())
    assert plain == [n * n for n in range(20)]
    assert both == 10
    assert ran_here == 42
    assert loop_threads(pool)  # the pool's loop is not the user's


@pytest.mark.timeout(20)
def test_a_failed_value_raises_at_await_in_the_users_loop(pool: Pool) -> None:
    @pool.task
    async def boom() -> None:
        raise KeyError("k")

    async def main() -> BaseException:
        with pytest.raises(KeyError) as caught:
            await boom()
        return caught.value

    assert isinstance(asyncio.run(main()), KeyError)


# -- errors -------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_errors_propagate_as_for_threaded_tasks(pool: Pool) -> None:
    @pool.task
    async def boom(n: int) -> int:
        await asyncio.sleep(0)
        raise ValueError(f"bad {n}")

    @pool.task
    def threaded(n: int) -> int:
        return n

    @pool.task
    async def after(n: int) -> int:
        return n

    v = boom(1)
    dependent = threaded(v)
    second = after(dependent)
    with pytest.raises(ValueError, match="bad 1") as first:
        v.get()
    with pytest.raises(ValueError) as via_thread:
        dependent.get()
    with pytest.raises(ValueError) as via_loop:
        second.get()
    assert first.value is via_thread.value is via_loop.value   # the same exception object
    assert asynckit.exception(second) is first.value
    assert v.is_error() and second.is_error()
    assert asynckit.state(second) == "failed"


@pytest.mark.timeout(20)
def test_base_exceptions_settle_and_the_loop_lives_on(pool: Pool) -> None:
    @pool.task
    async def leaves() -> None:
        raise SystemExit(3)

    @pool.task
    async def cancelled_inside() -> None:
        raise asyncio.CancelledError()

    @pool.task
    def not_a_coroutine_result() -> int:
        return 1

    with pytest.raises(SystemExit):
        leaves().get()
    with pytest.raises(asyncio.CancelledError):
        cancelled_inside().get()

    @pool.task
    async def fine() -> str:
        return "still running"

    assert fine().get() == "still running"
    assert not_a_coroutine_result().get() == 1


@pytest.mark.timeout(20)
def test_wrong_arguments_fail_the_value_not_the_loop(pool: Pool) -> None:
    @pool.task
    async def one(a: int) -> int:
        return a

    bad = one(1, 2)  # TypeError when called on the loop
    with pytest.raises(TypeError):
        bad.get()
    assert one(5).get() == 5


# -- blocking on the loop: detected -----------------------------------------------


@pytest.mark.timeout(20)
def test_blocking_on_a_value_of_the_same_loop_raises_instead_of_deadlocking(pool: Pool) -> None:
    @pool.task
    async def child() -> int:
        await asyncio.sleep(0.01)
        return 1

    @pool.task
    def threaded(n: int) -> int:
        return n + 1

    @pool.task
    async def uses_get() -> int:
        return child().get()

    @pool.task
    async def uses_proxy() -> int:
        return child() + 1

    @pool.task
    async def through_a_thread() -> int:
        return threaded(child()).get()   # the threaded task waits for the loop

    @pool.task
    async def probes() -> tuple[bool, bool]:
        v = child()
        quick = v.wait(0)          # a non-blocking probe is fine
        with pytest.raises(TimeoutError):
            v.get(False)
        return quick, await v == 1

    for task in (uses_get, uses_proxy, through_a_thread):
        with pytest.raises(RuntimeError, match="await value"):
            task().get()
    assert probes().get() == (False, True)


@pytest.mark.timeout(20)
def test_blocking_on_a_threaded_value_inside_a_coroutine_is_allowed(pool: Pool) -> None:
    @pool.task
    def threaded(n: int) -> int:
        return n + 1

    @pool.task
    async def main() -> int:
        return threaded(1).get() + threaded(2)

    assert main().get() == 5


# -- cancel, limit, retries --------------------------------------------------------


@pytest.mark.timeout(20)
def test_cancel_an_async_task_that_has_not_started(pool: Pool) -> None:
    gate = threading.Event()
    ran = []

    @pool.task
    def held() -> int:
        gate.wait(10)
        return 1

    @pool.task
    async def waits(n: int) -> int:
        ran.append(n)
        return n

    blocker = held()
    v = waits(blocker)
    dependent = waits(v)
    assert asynckit.cancel(v) is True
    gate.set()
    with pytest.raises(CancelledError):
        v.get()
    with pytest.raises(CancelledError):
        dependent.get()
    assert blocker.get() == 1 and ran == []
    assert asynckit.state(dependent) == "cancelled"


@pytest.mark.timeout(20)
def test_a_running_async_task_is_not_cancelled(pool: Pool) -> None:
    started = threading.Event()
    release = asyncio.Event()

    @pool.task
    async def running() -> str:
        started.set()
        await release.wait()
        return "finished"

    @pool.task
    async def let_go() -> None:
        release.set()

    v = running()
    assert started.wait(10)
    assert asynckit.cancel(v) is False
    let_go()
    assert v.get() == "finished"


@pytest.mark.timeout(20)
def test_limit_caps_concurrent_coroutines(pool: Pool) -> None:
    in_flight = 0
    most = 0
    full = asyncio.Event()

    @pool.task(limit=3)
    async def polite(n: int) -> int:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        if in_flight == 3:
            full.set()
        await full.wait()
        await asyncio.sleep(0.005)
        in_flight -= 1
        return n

    assert AsyncList([polite(n) for n in range(30)]).get() == list(range(30))
    assert most == 3


@pytest.mark.timeout(20)
def test_cancelling_held_limited_async_calls_frees_nothing_twice(pool: Pool) -> None:
    release = asyncio.Event()

    @pool.task(limit=1)
    async def one_at_a_time(n: int) -> int:
        await release.wait()
        return n

    @pool.task
    async def let_go() -> None:
        release.set()

    first = one_at_a_time(0)
    waiting = [one_at_a_time(n) for n in range(1, 6)]
    assert all(asynckit.cancel(v) for v in waiting[:3])
    let_go()
    assert first.get() == 0
    assert [v.get() for v in waiting[3:]] == [4, 5]
    assert one_at_a_time(9).get() == 9


def block_the_loop(pool: Pool) -> threading.Event:
    """Hold the pool's loop thread in a synchronous wait; set the event to let go."""
    started = threading.Event()
    gate = threading.Event()

    async def hold() -> None:
        started.set()
        gate.wait(10)  # blocks the loop on purpose: nothing else runs there meanwhile

    pool.do(hold)
    assert started.wait(10)
    return gate


@pytest.mark.timeout(20)
def test_a_burst_of_calls_wakes_the_loop_once(pool: Pool) -> None:
    async def one(n: int) -> int:
        return n

    pool.do(one, 0).get()  # the loop thread is up
    gate = block_the_loop(pool)
    loop = pool._loop().loop
    wakeups = []
    wake = loop.call_soon_threadsafe

    def counting(*args: object) -> object:
        wakeups.append(args)
        return wake(*args)

    loop.call_soon_threadsafe = counting
    try:
        values = [pool.do(one, n) for n in range(100)]
    finally:
        del loop.call_soon_threadsafe
    gate.set()
    assert AsyncList(values).get() == list(range(100))
    assert len(wakeups) == 1


@pytest.mark.timeout(20)
def test_a_burst_larger_than_a_batch_runs_each_call_in_its_own_task(pool: Pool) -> None:
    # The loop claims queued calls in batches (and on 3.11 makes a batch's
    # tasks before running their first steps): every call still runs in an
    # asyncio task of its own, from its first line, with contextvars kept
    # apart; calls that suspend and calls that do not mix in one batch; one
    # cancelled while queued is skipped.
    seen: list[tuple[int, asyncio.Task[object] | None]] = []
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=-1)

    async def one(n: int) -> int:
        task = asyncio.current_task()
        seen.append((n, task))
        assert var.get() == -1  # nothing leaks from the call before
        var.set(n)
        if n % 3 == 0:
            await asyncio.sleep(0)
        async with asyncio.timeout(5):  # needs the current task
            pass
        assert asyncio.current_task() is task and var.get() == n
        return n

    pool.do(one, -1).get()  # the loop thread is up
    gate = block_the_loop(pool)
    values = [pool.do(one, n) for n in range(300)]
    assert asynckit.cancel(values[150]) is True
    gate.set()
    kept = values[:150] + values[151:]
    assert AsyncList(kept).get() == [n for n in range(300) if n != 150]
    with pytest.raises(CancelledError):
        values[150].get()
    tasks = [task for n, task in seen if n >= 0]
    assert len(tasks) == 299 and None not in tasks
    assert len({id(task) for task in tasks}) == 299
    assert [n for n, _ in seen if n >= 0] == [n for n in range(300) if n != 150]


@pytest.mark.timeout(20)
def test_cancelling_a_queued_limited_call_gives_its_slot_back(pool: Pool) -> None:
    @pool.task(limit=1)
    async def limited(n: int) -> int:
        return n

    gate = block_the_loop(pool)
    queued = limited(1)          # takes the free slot, waits in the loop's queue
    assert asynckit.state(queued) == "pending"
    assert asynckit.cancel(queued) is True
    gate.set()
    assert limited(2).get(timeout=10) == 2   # a leaked slot would hold this back forever
    with pytest.raises(CancelledError):
        queued.get()


@pytest.mark.timeout(20)
def test_retries_rerun_a_failed_coroutine_with_backoff(pool: Pool) -> None:
    attempts = []
    never = []

    @pool.task(retries=3, retry_delay=0.01, retry_on=ConnectionError)
    async def flaky(n: int) -> int:
        attempts.append(n)
        await asyncio.sleep(0)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return n

    @pool.task(retries=2, retry_delay=0.001)
    async def hopeless() -> None:
        never.append(1)
        raise OSError(len(never))

    assert flaky(7).get() == 7
    assert attempts == [7, 7, 7]
    with pytest.raises(OSError) as caught:
        hopeless().get()
    assert caught.value.args == (3,) and len(never) == 3


# -- shutdown, exit, bad input --------------------------------------------------------


@pytest.mark.timeout(20)
def test_shutdown_lets_pending_coroutines_finish_and_stops_the_loop() -> None:
    pool = Pool(worker_count=2)

    @pool.task
    async def later(n: int) -> int:
        await asyncio.sleep(0.05)
        if n == 0:
            return sum(await AsyncList([later(m) for m in range(100, 103)]))  # nested, after shutdown
        return n

    values = [later(n) for n in range(50)]
    assert loop_threads(pool)
    pool.shutdown(wait=True)
    assert [v.get(False) for v in values] == [303] + list(range(1, 50))
    assert loop_threads(pool) == []
    with pytest.raises(RuntimeError, match="shut down"):
        later(1)


@pytest.mark.timeout(20)
def test_shutdown_without_waiting_drops_nothing() -> None:
    pool = Pool(worker_count=2)

    @pool.task
    async def later(n: int) -> int:
        await asyncio.sleep(0.02)
        return n

    values = [later(n) for n in range(20)]
    pool.shutdown(wait=False)
    assert [v.get() for v in values] == list(range(20))
    assert pool.wait(10)
    for thread in loop_threads(pool):
        thread.join(10)
    assert loop_threads(pool) == []


@pytest.mark.timeout(60)
def test_interpreter_exit_finishes_pending_coroutines() -> None:
    done = run_script("""
        import asyncio, asynckit

        @asynckit.task
        async def later(n):
            await asyncio.sleep(0.05)
            print("done", n, flush=True)

        for n in range(20):
            later(n)
        print("main ends", flush=True)
    """)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "main ends"
    assert sorted(lines[1:]) == sorted(f"done {n}" for n in range(20))
    assert "Traceback" not in done.stderr and "Task was destroyed" not in done.stderr


@pytest.mark.timeout(20)
def test_a_coroutine_object_is_refused_with_advice(pool: Pool) -> None:
    async def fetch(url: str) -> str:
        return url

    coro = fetch("x")
    with pytest.raises(TypeError, match=r"pass the async function and its arguments"):
        pool.do(coro)  # type: ignore[arg-type]
    assert coro.cr_frame is None  # closed: no "never awaited" warning
    with pytest.raises(TypeError, match="coroutine object"):
        asynckit.do(fetch("y"))  # type: ignore[arg-type]


def test_an_async_generator_function_is_refused_at_decoration(pool: Pool) -> None:
    async def pages():
        yield 1

    with pytest.raises(TypeError, match="async generator"):
        pool.task(pages)


@pytest.mark.timeout(20)
def test_async_methods_and_pool_submit(pool: Pool) -> None:
    class Client:
        def __init__(self, base: int) -> None:
            self.base = base

        @pool.task
        async def get(self, n: int) -> int:
            await asyncio.sleep(0)
            return self.base + n

        @pool.task
        @staticmethod
        async def static(n: int) -> int:
            return -n

    client = Client(100)
    assert client.get(1).get() == 101
    assert Client.static(2).get() == -2

    async def coro_fn(n: int) -> int:
        return n * 3

    assert pool.submit(coro_fn, 4).result(10) == 12


@pytest.mark.timeout(60)
def test_debug_mode_reaches_the_pools_loop() -> None:
    done = run_script("""
        import asyncio, time, asynckit

        @asynckit.task
        async def check():
            time.sleep(0.15)   # blocks the loop: debug mode logs it
            return asyncio.get_running_loop().get_debug()

        print(check().get())
    """, PYTHONASYNCIODEBUG="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert "took" in done.stderr and "seconds" in done.stderr   # asyncio's slow-callback log
