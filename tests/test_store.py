"""Resumable runs (API.md §7): Pool(store=...), @pool.task(cache=True), the keys,
lazy loading, what is stored, concurrency, bad input and the CLI.

Every test uses a real SQLite file in tmp_path. A "rerun" in one process is a
new Pool on the same file with the same functions made again by the same
factory (same module, qualified name and code: the same keys).
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import threading
from collections import namedtuple
from pathlib import Path
from typing import Any

import _procfuncs
import pytest

import asynckit
from asynckit import AsyncList, Pool, Store

Point = namedtuple("Point", "x y")


def make_graph(pool: Pool, calls: list[str]) -> tuple[Any, Any]:
    """A download -> total graph whose calls are counted in ``calls``."""
    lock = threading.Lock()

    @pool.task(cache=True)
    def download(url: str) -> bytes:
        with lock:
            calls.append(f"download {url}")
        return url.encode() * 3

    @pool.task(cache=True)
    def total(pages: list[bytes]) -> int:
        with lock:
            calls.append("total")
        return sum(len(p) for p in pages)

    return download, total


def key_of(value: Any) -> str:
    key = value._self_task.spec.key
    assert isinstance(key, str)
    return key


# -- options ---------------------------------------------------------------------------


def test_cache_on_a_pool_without_a_store_is_a_value_error_at_decoration() -> None:
    with Pool(2) as pool:
        with pytest.raises(ValueError, match="store"):
            pool.task(cache=True)
        with pytest.raises(ValueError, match="store"):
            pool.task(lambda: 1, cache=True)
        with pytest.raises(TypeError, match="cache must be True or False"):
            pool.task(cache="yes")  # type: ignore[call-overload]


def test_cache_needs_a_python_function(tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        with pytest.raises(TypeError, match="Python function"):
            pool.task(len, cache=True)


# -- keys follow the graph ---------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_rerun_finds_the_final_key_and_loads_and_runs_nothing_upstream(
        tmp_path: Path) -> None:
    path = tmp_path / "results.db"
    urls = [f"https://example.org/{i}" for i in range(10_000)]
    calls: list[str] = []
    with Pool(4, store=path) as pool:
        download, total = make_graph(pool, calls)
        first = total([download(u) for u in urls])
        assert first == sum(len(u) * 3 for u in urls)
    assert len(calls) == 10_001
    calls.clear()
    with Pool(4, store=path) as pool:
        download, total = make_graph(pool, calls)
        pages = [download(u) for u in urls]
        again = total(pages)
        assert asynckit.state(again) == "done"  # settled at once, before any use
        assert again == first
        stats = pool.store.statistics()  # type: ignore[union-attr]
    assert calls == []  # no upstream function ran, nor the final one
    assert stats["reads"] == 1  # the total's row only: no upstream row was read
    assert stats["hits"] == 10_001 and stats["writes"] == 0


def test_a_value_of_a_cached_task_contributes_its_key_not_its_value(tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        @pool.task(cache=True)
        def one(x: int) -> int:
            return 1  # same value for every x

        @pool.task(cache=True)
        def show(v: int) -> int:
            return v

        a, b = one(1), one(2)
        assert a == b == 1
        assert key_of(show(a)) != key_of(show(b))  # different upstream keys
        assert key_of(show(a)) == key_of(show(one(1)))
        # A list of values and an AsyncList of the same values key alike.
        assert key_of(show([a, b])) == key_of(show(AsyncList([a, b])))
        assert key_of(show(pool.map(one, [1, 2]))) == key_of(show([a, b]))


def test_a_settled_asynclist_of_cached_values_keys_by_its_items(tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        @pool.task(cache=True)
        def square(x: int) -> int:
            return x * x

        @pool.task(cache=True)
        def total(xs: list[int]) -> int:
            return sum(xs)

        items = pool.map(square, range(5))
        items.wait()
        assert key_of(total(items)) == key_of(total([square(i) for i in range(5)]))
        assert total(items) == 30


def test_map_and_chain_work_with_cached_functions(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    calls: list[str] = []
    for _ in range(2):
        with Pool(2, store=path) as pool:
            download, total = make_graph(pool, calls)
            done = threading.Event()
            value = total(pool.map(download, ["a", "b"]))
            value.chain(done.set)
            assert value == 6
            assert done.wait(10)
    assert calls.count("total") == 1 and len(calls) == 3


def test_async_def_tasks_are_cached(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    calls: list[int] = []
    for _ in range(2):
        with Pool(2, store=path) as pool:
            @pool.task(cache=True)
            async def fetch(i: int) -> int:
                calls.append(i)
                return i + 1

            assert fetch(41) == 42
    assert calls == [41]


def test_editing_the_function_body_invalidates_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    calls: list[str] = []
    with Pool(2, store=path) as pool:
        def step(x: int) -> int:
            calls.append("old")
            return x

        assert pool.task(step, cache=True)(1) == 1
    with Pool(2, store=path) as pool:
        def step(x: int) -> int:  # type: ignore[no-redef]  # same name, new body
            calls.append("new")
            return x + 0

        assert pool.task(step, cache=True)(1) == 1
    assert calls == ["old", "new"]


def test_a_default_argument_is_part_of_the_function_key(tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        def scale(x: int, k: int = 2) -> int:
            return x * k

        first = pool.task(scale, cache=True)(3)

        def scale(x: int, k: int = 3) -> int:  # type: ignore[no-redef]
            return x * k

        assert key_of(pool.task(scale, cache=True)(3)) != key_of(first)


# -- the encoding of plain arguments ------------------------------------------------------


def test_equal_containers_key_alike_and_different_types_do_not(tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        @pool.task(cache=True)
        def f(*args: Any, **kwargs: Any) -> int:
            return 0

        def k(*args: Any, **kwargs: Any) -> str:
            return key_of(f(*args, **kwargs))

        assert k({"a": 1, "b": 2}) == k({"b": 2, "a": 1})
        assert k({"x", "y", "z"}) == k({"z", "y", "x"})
        assert k(a=1, b=2) == k(b=2, a=1)
        nested = [{"k": (1, 2.5, None, True, b"x", frozenset({"p", "q"}))}, {3, 4}]
        assert k(nested) == k([{"k": (1, 2.5, None, True, b"x", frozenset({"q", "p"}))},
                               {4, 3}])
        distinct = [k(1), k(1.0), k(True), k("1"), k(b"1"), k((1,)), k([1]), k({1}),
                    k(frozenset({1})), k(Point(1, 2)), k((1, 2)), k(None), k(int),
                    k(1 + 0j), k(...)]
        assert len(set(distinct)) == len(distinct)
        assert k(("a", "bc")) != k(("ab", "c"))  # self-delimiting: no collision


def test_an_argument_that_cannot_be_keyed_is_a_type_error_at_the_call_naming_it(
        tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        @pool.task(cache=True)
        def fetch(url: str, session: Any = None) -> str:
            return url

        plain = pool.do(str, "x")  # an AsyncValue of a task that is not cached
        with pytest.raises(TypeError, match=r"fetch\(\): argument 'url' \(position 0\).*not "
                                            r"cached"):
            fetch(plain)
        with pytest.raises(TypeError, match=r"argument 'session'.*threading\.Event"):
            fetch("u", session=threading.Event())
        with pytest.raises(TypeError, match=r"argument 'session' \(position 1\)"):
            fetch("u", [object()])
        looped: list[Any] = []
        looped.append(looped)
        with pytest.raises(TypeError, match="contains itself"):
            fetch(looped)
        plain.wait()
        assert pool.wait(10)
        assert pool.statistics()["unsettled"] == 0  # nothing was submitted


def test_a_method_keys_its_instance(tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        class Thing:
            @pool.task(cache=True)
            def method(self) -> int:
                return 1

            @pool.task(cache=True)
            @staticmethod
            def static(x: int) -> int:
                return x

        with pytest.raises(TypeError, match="method of Thing"):
            Thing().method()
        assert Thing.static(3) == 3


KEY_SCRIPT = """
import sys
from asynckit import Pool

calls = []
with Pool(2, store=sys.argv[1]) as pool:
    @pool.task(cache=True)
    def f(words, table):
        calls.append(1)
        assert "alpha" in {"alpha", "beta", "gamma"}  # a frozenset constant in the code
        return sorted(words)

    value = f({"alpha", "beta", "gamma", "delta", "epsilon"},
              {"k": frozenset({"x", "y", "z"}), ("t", 1): {"s", "t"}})
    print(value._self_task.spec.key, len(calls), value == ["alpha", "beta", "delta",
                                                         "epsilon", "gamma"])
"""


@pytest.mark.timeout(120)
def test_keys_are_stable_across_interpreters_and_hash_seeds(tmp_path: Path) -> None:
    script = tmp_path / "keys.py"
    script.write_text(KEY_SCRIPT)
    store = tmp_path / "r.db"
    outputs = []
    for seed in ("0", "1", "12345", "random"):
        done = subprocess.run([sys.executable, str(script), str(store)], capture_output=True,
                              text=True, timeout=60,
                              env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.split())
    keys = {key for key, _, _ in outputs}
    assert len(keys) == 1, outputs
    assert [ran for _, ran, _ in outputs] == ["1", "0", "0", "0"]  # later runs: hits
    assert all(ok == "True" for _, _, ok in outputs)


# -- what is stored ---------------------------------------------------------------------------


def test_failures_and_cancellations_are_not_stored_and_a_rerun_retries_them(
        tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    calls: list[int] = []
    gate = threading.Event()
    with Pool(1, store=path) as pool:
        @pool.task(cache=True)
        def flaky(i: int) -> int:
            calls.append(i)
            if i == 0:
                gate.wait(10)
                raise ValueError("boom")
            return i

        blocker = flaky(0)
        waiting = flaky(1)
        assert asynckit.cancel(waiting)
        gate.set()
        with pytest.raises(ValueError):
            blocker.get()
        assert pool.store.entries() == []  # type: ignore[union-attr]
    assert calls == [0]
    with Pool(1, store=path) as pool:
        @pool.task(cache=True)
        def flaky(i: int) -> int:  # type: ignore[no-redef]
            calls.append(i)
            if i == 0:
                gate.wait(10)
                raise ValueError("boom")
            return i

        with pytest.raises(ValueError):
            flaky(0).get()
        assert flaky(1) == 1
    assert calls == [0, 0, 1]


def test_an_unpicklable_result_warns_naming_the_task_and_still_works(tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        @pool.task(cache=True)
        def make_lock(name: str) -> Any:
            return threading.Lock()

        with pytest.warns(RuntimeWarning, match=r"make_lock\('door'\) cannot be pickled"):
            value = make_lock("door")
            assert value.acquire()  # works in this run
            value.release()
            assert pool.wait(10)
        assert pool.store.entries() == []  # type: ignore[union-attr]


def test_a_damaged_row_is_a_miss_and_is_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    calls: list[str] = []
    with Pool(2, store=path) as pool:
        download, _ = make_graph(pool, calls)
        assert download("x") == b"xxx"
    with sqlite3.connect(path) as db:  # damage the payload behind the checksum
        db.execute("UPDATE results SET payload = ?", (pickle.dumps(b"wrong"),))
    db.close()
    with Pool(2, store=path) as pool:
        download, _ = make_graph(pool, calls)
        value = download("x")
        with pytest.warns(RuntimeWarning, match="checksum"):
            assert value == b"xxx"  # never the wrong result
    with Pool(2, store=path) as pool:
        download, _ = make_graph(pool, calls)
        assert download("x") == b"xxx"  # overwritten: loads cleanly now
    assert calls == ["download x", "download x"]


def test_a_pool_without_cached_functions_never_touches_the_store(tmp_path: Path) -> None:
    with Pool(2, store=tmp_path / "r.db") as pool:
        @pool.task(retries=1)
        def f(x: int) -> int:
            return x

        assert sum(pool.map(f, range(10))) == 45 and pool.do(f, 1) == 1
        assert pool.store.statistics() == {  # type: ignore[union-attr]
            "lookups": 0, "hits": 0, "reads": 0, "writes": 0}


# -- concurrency -------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_many_threads_of_one_pool(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Pool(16, store=path) as pool:
        @pool.task(cache=True)
        def square(i: int) -> int:
            return i * i

        assert sum(pool.map(square, range(2_000))) == sum(i * i for i in range(2_000))
    with Pool(16, store=path) as pool:
        again = pool.task(cache=True)(square.__wrapped__)
        values = [again(i) for i in range(2_000)]
        results = [None] * 2_000

        def use(start: int) -> None:
            for i in range(start, 2_000, 8):
                results[i] = values[i] + 0

        threads = [threading.Thread(target=use, args=(s,)) for s in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == [i * i for i in range(2_000)]
        stats = pool.store.statistics()  # type: ignore[union-attr]
        assert (stats["writes"], stats["reads"]) == (0, 2_000)


@pytest.mark.timeout(60)
def test_one_value_found_in_the_store_is_read_once_by_many_threads_at_once(
        tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    for run in range(2):
        with Pool(2, store=path) as pool:
            download, _ = make_graph(pool, [])
            value = download("x" * 1000)
            barrier = threading.Barrier(8)
            seen: list[int] = []

            def use(value: Any, barrier: threading.Barrier, seen: list[int]) -> None:
                barrier.wait(10)
                seen.append(len(value))

            threads = [threading.Thread(target=use, args=(value, barrier, seen))
                       for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert seen == [3000] * 8
            assert pool.store.statistics()["reads"] == run  # type: ignore[union-attr]


@pytest.mark.timeout(120)
def test_the_processes_backend_stores_in_the_parent(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    for run in range(2):
        with Pool(2, backend="processes", store=path) as pool:
            add = pool.task(_procfuncs.add, cache=True)
            total = pool.task(_procfuncs.total, cache=True)
            value = total([add(i, i) for i in range(20)])
            assert value == sum(2 * i for i in range(20))
            stats = pool.store.statistics()  # type: ignore[union-attr]
            assert (stats["writes"], stats["hits"]) == ((21, 0) if run == 0 else (0, 21))


WRITER = """
import sys
from asynckit import Pool
with Pool(4, store=sys.argv[1]) as pool:
    @pool.task(cache=True)
    def blob(i):
        return bytes([i % 256]) * int(sys.argv[3])
    for i in range(int(sys.argv[2])):
        blob(i)
        blob(-i - 1)  # shared with the other writer
        if len(sys.argv) > 4:
            pool.wait()
            print(i, flush=True)
"""


@pytest.mark.timeout(120)
def test_two_processes_share_one_store_at_once(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    procs = []
    for offset in (0, 300):
        source = tmp_path / f"writer{offset}.py"
        source.write_text(WRITER.replace("blob(-i - 1)", f"blob(i + {offset} + 1000)"))
        procs.append(subprocess.Popen([sys.executable, str(source), str(path), "300", "1000"],
                                      stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=100)
        assert proc.returncode == 0, err
    store = Store(path)
    try:
        ((_, count, _),) = store.entries()
        assert count == 300 + 300 + 300  # 0..299 (both), 1000..1299, 1300..1599
        _assert_every_row_loads_whole(store, path, 1000)
    finally:
        store.close()


def _assert_every_row_loads_whole(store: Store, path: Path, size: int) -> None:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT key, size, length(payload) FROM results").fetchall()
    finally:
        db.close()
    for key, declared, actual in rows:
        assert declared == actual
        value = store.load(key)  # the checksum holds, and it unpickles whole
        assert len(value) == size and value == value[:1] * size


OPENER = """
import sys
from asynckit import Store
store = Store(sys.argv[1])
store.put("key" + sys.argv[2], "f", int(sys.argv[2]), "f()")
store.close()
"""


@pytest.mark.timeout(120)
def test_processes_that_create_one_store_at_once_all_open_it(tmp_path: Path) -> None:
    # Creating the file and switching it to WAL take locks that SQLite's
    # busy timeout does not wait for: the store waits for them itself.
    script = tmp_path / "opener.py"
    script.write_text(OPENER)
    for round in range(3):
        path = tmp_path / f"r{round}.db"
        procs = [subprocess.Popen([sys.executable, str(script), str(path), str(i)],
                                  stderr=subprocess.PIPE, text=True) for i in range(4)]
        for proc in procs:
            _, err = proc.communicate(timeout=100)
            assert proc.returncode == 0, err
        store = Store(path)
        try:
            assert store.entries() == [("f", 4, sum(len(pickle.dumps(i, 5)) for i in range(4)))]
        finally:
            store.close()


@pytest.mark.timeout(120)
def test_sigkill_mid_write_never_leaves_a_wrong_or_truncated_entry(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "r.db"
    size = 2_000_000  # large rows: the kill lands while one is being written
    proc = subprocess.Popen([sys.executable, str(script), str(path), "10000", str(size), "-v"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(5):  # five rounds are stored for sure: the writes go on
        proc.stdout.readline()
    proc.kill()
    assert proc.wait(30) == -9
    proc.stdout.close()
    store = Store(path)  # opens: SQLite rolls the unfinished transaction back
    try:
        ((name, count, _),) = store.entries()
        assert name == "__main__.blob" and count >= 10
        _assert_every_row_loads_whole(store, path, size)
    finally:
        store.close()


# -- bad input ------------------------------------------------------------------------------------


def test_bad_store_paths_are_clear_errors_at_the_pool_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        Pool(2, store=tmp_path / "nowhere" / "r.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all, not even a little" * 100)
    with pytest.raises(ValueError, match=r"junk\.db.*not a readable SQLite database.*delete"):
        Pool(2, store=junk)
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE people (name TEXT)")
    db.commit()
    db.close()
    with pytest.raises(ValueError, match=r"other\.db.*not an asynckit store"):
        Pool(2, store=other)
    with pytest.raises(IsADirectoryError):
        Pool(2, store=tmp_path)
    with pytest.raises(TypeError, match="store must be a path"):
        Pool(2, store=3)  # type: ignore[arg-type]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes to read-only directories")
def test_a_store_in_a_directory_that_is_not_writable_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=r"locked.*not writable"):
            Pool(2, store=folder / "r.db")
    finally:
        folder.chmod(0o700)


def test_the_dask_backend_refuses_a_store_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Dask"):
        Pool(backend="dask", address="tcp://127.0.0.1:1", store=tmp_path / "r.db")
    assert not (tmp_path / "r.db").exists()


# -- inspecting and clearing ------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-X", "dev", "-m", "asynckit.store", *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(120)
def test_the_command_line_lists_and_clears_entries(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Pool(2, store=path) as pool:
        download, total = make_graph(pool, [])
        assert total([download(u) for u in "abc"]) == 9
    name = f"{__name__}.make_graph.<locals>"
    listing = _cli(str(path))
    assert listing.returncode == 0 and listing.stderr == "", listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[1].split() == [f"{name}.download", "3", str(3 * len(pickle.dumps(b"aaa", 5)))]
    assert lines[2].split()[:2] == [f"{name}.total", "1"]
    assert lines[3].split()[:2] == ["total", "4"]
    cleared = _cli(str(path), "--clear", f"{name}.total")
    assert cleared.stdout.startswith("removed 1 entries"), cleared.stderr
    store = Store(path)
    assert [(n, c) for n, c, _ in store.entries()] == [(f"{name}.download", 3)]
    assert store.clear() == 3 and store.entries() == []
    store.close()
    assert "no entries" in _cli(str(path)).stdout
    missing = _cli(str(tmp_path / "missing.db"))
    assert missing.returncode == 2 and "no store at" in missing.stderr


def test_store_api_checks_its_arguments(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")  # created, in WAL mode
    db = sqlite3.connect(tmp_path / "r.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()
    try:
        with pytest.raises(TypeError, match="function must be a name"):
            store.clear(3)  # type: ignore[arg-type]
        assert repr(store).startswith("<asynckit.Store")
    finally:
        store.close()




def test_a_value_found_in_the_store_is_usable_after_its_pool_has_shut_down(
        tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    for _ in range(2):
        with Pool(2, store=path) as pool:
            download, total = make_graph(pool, [])
            value = total([download(u) for u in "ab"])
        assert value == 6  # the rerun's row is read after the pool closed its store


def test_map_with_a_buffersize_caches_each_call(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    calls: list[str] = []
    for _ in range(2):
        with Pool(2, store=path) as pool:
            download, _ = make_graph(pool, calls)
            assert list(pool.map(download, "abcde", buffersize=2)) == [
                c.encode() * 3 for c in "abcde"]
    assert len(calls) == 5  # the second run found every call in the store


@pytest.mark.timeout(60)
def test_a_program_that_keeps_no_results_does_not_import_the_store() -> None:
    # sqlite3, pickle and hashlib came with `import asynckit` (4-8 ms): now
    # with the first Pool(store=...) or asynckit.Store only. Nor do the
    # cache=True machinery (asynckit.cache, asynckit.keys) or pool.map's
    # (asynckit.mapping) come before their first use, nor the picture of the
    # graph (asynckit.to_dot).
    code = ("import sys, asynckit; asynckit.Pool(2).do(abs, -1).get(); "
            "print(sorted(m for m in ('sqlite3', 'hashlib', 'asynckit.store', 'asynckit.dot', "
            "'asynckit.cache', 'asynckit.keys', 'asynckit.mapping') "
            "if m in sys.modules)); print(asynckit.Store.__module__, "
            "asynckit.to_dot.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "asynckit.store", "asynckit.dot"]
