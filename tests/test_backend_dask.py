"""client=/backend="dask": tasks run on a real Dask cluster (a LocalCluster on 127.0.0.1)."""

from __future__ import annotations

import logging
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Iterator

import _procfuncs as f
import pytest

from asynckit import AsyncList, Pool, state

distributed = pytest.importorskip("distributed")



@pytest.fixture(scope="module")
def cluster():
    """One cluster of two worker processes for the whole module (they are slow to start)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  ) as cluster, distributed.Client(cluster) as client:
        yield cluster, client


@pytest.fixture(scope="module")
def pool(cluster):
    return Pool(client=cluster[1], name="dask-tests")


@pytest.fixture
def dask_errors() -> Iterator[list[logging.LogRecord]]:
    """The ERROR records distributed logs in this process meanwhile (its own
    loggers do not propagate, so caplog would not see them)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("distributed")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def workers(cluster) -> set[str]:
    return set(cluster[1].scheduler_info()["workers"])


def is_remote(value) -> bool:
    """Settled, with its result still on the cluster (never fetched here)."""
    node = value._self_task
    return state(value) == "done" and isinstance(node.remote.future, distributed.Future) \
        and not node.remote.here and repr(value).endswith("done>")


@pytest.mark.timeout(60)
def test_a_dependency_graph_runs_on_the_cluster(cluster, pool: Pool) -> None:
    a = pool.do(f.add, 1, 2)
    b = pool.do(f.mul, a, 10)
    c = pool.do(f.add, a, b)
    seen = pool.do(f.where_and, [a, {"b": b}, (c,)])
    worker, value = seen.get(30)
    assert worker in workers(cluster)  # distributed.get_worker() works in the task
    assert value == [3, {"b": 30}, (33,)]
    # a and b travelled to their dependents as Dask futures: never fetched here.
    assert is_remote(a) and is_remote(b)
    assert c == 33
    assert not is_remote(c)  # used here: fetched now
    assert pool.wait(30)


@pytest.mark.timeout(60)
def test_errors_reach_the_user_with_their_type(pool: Pool) -> None:
    bad = pool.do(f.missing, "nope")
    after = pool.do(f.add, bad, 1)
    with pytest.raises(KeyError, match="nope"):
        bad.get(30)
    with pytest.raises(KeyError, match="nope"):
        after.get(30)
    with pytest.raises(ValueError, match="boom"):
        pool.do(f.fail, "boom").get(30)


@pytest.mark.timeout(60)
def test_asynclist_chain_decorator_and_wait(pool: Pool) -> None:
    @pool.task
    def total(pages: list[bytes]) -> int:
        return sum(len(page) for page in pages)

    @pool.task
    def page(n: int) -> bytes:
        return b"x" * n

    pages = [page(n) for n in range(5)]
    listed = AsyncList(pages)
    t = total(listed)
    chained = t.chain(f.add, 40, 2)
    assert t + 1 == 11
    assert chained == 42
    assert [len(p) for p in listed] == [0, 1, 2, 3, 4]
    assert pool.wait(30)


@pytest.mark.timeout(60)
def test_keywords_and_mixed_backends(pool: Pool) -> None:
    # keyword names client.submit() takes for itself still reach the function
    assert pool.do(f.with_key, key="k", priority=5) == "k:5"
    threads = Pool(2)
    here = threads.do(f.add, 1, 1)
    there = pool.do(f.mul, here, 21)  # a thread result goes to Dask as a plain value
    back = threads.do(f.add, there, 0)  # a Dask result is fetched for a thread task
    assert back.get(30) == 42
    assert pool.do(f.total, [there, here], start=frozenset({there}) and 0) == 44
    threads.shutdown()


@pytest.mark.timeout(60)
def test_backend_dask_with_an_address_makes_its_own_client(cluster) -> None:
    pool = Pool(backend="dask", address=cluster[0].scheduler_address)
    assert pool.do(f.where_and, 5).get(30)[1] == 5
    client = pool._backend.client
    assert client is not cluster[1]
    pool.shutdown()
    client.close()


@pytest.mark.timeout(90)
def test_a_killed_worker_process_mid_graph_is_recovered(cluster, pool: Pool) -> None:
    client = cluster[1]
    first = pool.do(f.mul, 6, 7)
    assert first.wait(30) and is_remote(first)
    holder = next(iter(client.who_has(first._self_task.remote.future).values()))[0]
    pids = client.run(os.getpid)
    os.kill(pids[holder], signal.SIGKILL)  # the only copy of first's result is gone
    second = pool.do(f.add, first, 0)  # Dask recomputes first, then runs this
    assert second.get(60) == 42
    assert first == 42


@pytest.mark.timeout(60)
def test_a_cancelled_dask_future_keeps_dasks_reason(cluster, pool, tmp_path) -> None:
    import asynckit

    stop = tmp_path / "stop"
    value = pool.do(f.wait_for_file, str(stop), 30)
    future = value._self_task.remote  # its Dask future, while it runs
    assert isinstance(future, distributed.Future)
    cluster[1].cancel([future], reason="the-operator-said-so")
    with pytest.raises(asynckit.CancelledError, match="the-operator-said-so"):
        value.get(30)
    stop.touch()  # Dask does not stop a running task: let its worker go


def test_repr_of_a_dask_pool_names_its_scheduler_not_a_worker_count(cluster, pool) -> None:
    text = repr(pool)
    assert "worker_count" not in text and cluster[1].scheduler.address in text, text


@pytest.mark.timeout(60)
def test_an_unpicklable_argument_is_named_at_the_call(pool: Pool, dask_errors,
                                                      tmp_path) -> None:
    lock = threading.Lock()
    assert pool.do(f.add, 1, 2).get(30) == 3  # add is known to pickle: its arguments still
    with pytest.raises(pickle.PicklingError, match=r"pickle argument 2 \(lock\) of task add"
                       r"\(.*for the Dask backend: .*cannot pickle '_thread.lock'"):
        pool.do(f.add, 1, lock)
    with pytest.raises(pickle.PicklingError, match=r"keyword argument 'start' \(lock\)"):
        pool.do(f.total, [1], start=lock)

    @pool.task
    def holds(x: int) -> object:
        return x, lock  # cloudpickle sends this function with its closure: the lock

    with pytest.raises(pickle.PicklingError, match="pickle the function of task .*holds"):
        holds(1)
    # A task that waits for inputs is checked at the call too, both when it is
    # handed to Dask ahead of them and when asynckit holds it (a chain).
    go = tmp_path / "go"
    first = pool.do(f.wait_for_file, str(go), 30)
    with pytest.raises(pickle.PicklingError, match=r"argument 2 \(lock\)"):
        pool.do(f.add, first, lock)
    with pytest.raises(pickle.PicklingError, match=r"argument 2 \(lock\)"):
        first.chain(f.add, 1, lock)
    after = pool.do(f.add, first, 1)
    go.touch()
    assert after.get(30) == 2  # the pool goes on
    assert pool.wait(30)
    assert not dask_errors, [record.getMessage() for record in dask_errors]


@pytest.mark.timeout(60)
def test_an_unpicklable_result_from_elsewhere_fails_the_task_naming_it(pool: Pool,
                                                                        dask_errors) -> None:
    threads = Pool(2)
    gate = threading.Event()

    def lock_later() -> object:
        gate.wait(30)
        return threading.Lock()

    try:
        made = threads.do(lock_later)  # a thread task's result, sent to Dask once known
        value = pool.do(f.pid_and, made)
        gate.set()
        with pytest.raises(pickle.PicklingError, match=r"argument 1 \(lock\).*Dask backend"):
            value.get(30)
        assert pool.wait(30)
        assert not dask_errors, [record.getMessage() for record in dask_errors]
    finally:
        gate.set()
        threads.shutdown()


# -- @pool.task(timeout=s): counted from the start on a worker -------------------------


@pytest.mark.timeout(90)
def test_a_task_past_its_timeout_fails_and_its_late_result_never_appears(
        cluster, pool: Pool, tmp_path, caplog) -> None:
    import asynckit

    stop, returned = tmp_path / "stop", tmp_path / "returned"
    discarded: list[logging.LogRecord] = []
    heard = threading.Event()
    handler = logging.Handler(logging.DEBUG)

    def emit(record: logging.LogRecord) -> None:
        if "timed out after 0.5 s" in record.getMessage():
            discarded.append(record)
            heard.set()

    handler.emit = emit  # type: ignore[method-assign]

    @pool.task(timeout=0.5)
    def stuck(stop: str, returned: str) -> str:
        f.wait_for_file(stop, 120)  # far longer than its timeout
        with open(returned, "w"):
            pass
        return "late"

    logger = logging.getLogger("asynckit")
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG, logger="asynckit"):
            value = stuck(str(stop), str(returned))
            after = pool.do(f.add, value, 1)
            others = [pool.do(f.mul, n, 2) for n in range(20)]
            with pytest.raises(TimeoutError,
                               match=r"stuck\(.*\) ran longer than its timeout of 0.5 s"):
                value.get(60)
            assert after.wait(30)
            assert asynckit.exception(after) is asynckit.exception(value)  # the same object
            with pytest.raises(TimeoutError, match="stuck"):
                after.get(0)
            # The stuck task still holds its worker thread: the cluster works on.
            assert [other.get(60) for other in others] == [2 * n for n in range(20)]
            assert not returned.exists() and not discarded
            stop.touch()  # now it returns, too late
            # Its outcome reaches this process and is discarded, said at DEBUG.
            assert heard.wait(60)
        record = discarded[0]
        assert record.levelno == logging.DEBUG and "stuck(" in record.getMessage()
        assert "its result is discarded" in record.getMessage()
        assert returned.exists()
        assert state(value) == "failed" and isinstance(asynckit.exception(value), TimeoutError)
        assert pool.wait(30)
    finally:
        logger.removeHandler(handler)
        stop.touch()


@pytest.mark.timeout(90)
def test_a_timed_out_call_is_retried_with_a_new_count(pool: Pool, tmp_path) -> None:
    flag, stop = tmp_path / "first", tmp_path / "stop"

    @pool.task(timeout=1, retries=2, retry_on=(TimeoutError,))
    def hangs_once(flag: str, stop: str) -> str:
        if not os.path.exists(flag):
            with open(flag, "w"):
                pass
            f.wait_for_file(stop, 120)
            return "first"
        return "second"

    try:
        value = hangs_once(str(flag), str(stop))
        assert pool.do(f.add, value, "!").get(60) == "second!"
        assert flag.exists()
    finally:
        stop.touch()


@pytest.mark.timeout(60)
def test_timed_tasks_that_finish_in_time_are_untouched(pool: Pool) -> None:
    @pool.task(timeout=30)
    def double(n: int) -> int:
        return 2 * n

    @pool.task(timeout=30)
    def refuse(n: int) -> int:
        raise ValueError(f"no {n}")

    values = [double(n) for n in range(50)]
    assert pool.do(f.total, values).get(30) == 2 * sum(range(50))
    with pytest.raises(ValueError, match="no 3") as caught:
        refuse(3).get(30)
    # The traceback starts in the task's own code, not in asynckit's wrapper.
    assert "start_then_call" not in "".join(traceback.format_tb(caught.value.__traceback__))
    assert pool.wait(30)


@pytest.mark.timeout(60)
def test_every_attempt_has_its_own_key_across_pools_and_clients(cluster, pool, tmp_path) -> None:
    # Dask takes a key it has seen for the same task: a key used twice would
    # hand back the first one's result. Keys count per pool from a random prefix.
    log = tmp_path / "keys"

    def note_key(n: int, fail_first: bool = False) -> int:
        from distributed import get_worker

        with open(log, "a") as out:
            out.write(get_worker().get_current_task() + "\n")
        if fail_first and not os.path.exists(f"{log}-{n}"):
            open(f"{log}-{n}", "w").close()
            raise OSError("first attempt")
        return n

    retried = pool.task(retries=1, retry_on=(OSError,))(note_key)
    with distributed.Client(cluster[0]) as other_client:
        pools = [pool, Pool(client=cluster[1], name="dask-tests"),
                 Pool(client=other_client, name="dask-tests")]
        try:
            values = [each.do(note_key, n) for n, each in enumerate(pools)]
            values.append(retried(3, fail_first=True))
            assert [value.get(30) for value in values] == [0, 1, 2, 3]
        finally:
            for each in pools[1:]:
                each.shutdown()
    keys = log.read_text().split()
    assert len(keys) == 5 and len(set(keys)) == 5, keys
