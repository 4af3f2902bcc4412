"""The result store behind ``Pool(store=...)``: one SQLite file of pickled results.

Each entry is one successful result of a ``@pool.task(cache=True)`` call,
under the call's key (``cache.call_key``), with the name of its function,
its size and a checksum of its payload. SQLite gives the atomicity: an entry
is written in one transaction, so a process killed mid-write leaves the
previous state of the file, never half a row; the checksum, verified on
every load, catches what SQLite cannot (a file damaged on disk), and a bad
entry is treated as missing.

One connection per store, behind a lock: calls of one pool (its worker
threads, the processes backend's result thread, the event loop) take turns,
and other processes sharing the file wait for SQLite's lock (WAL mode, a
busy timeout) instead of failing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sqlite3
import threading
import time
import warnings
import weakref
from pathlib import Path
from typing import Any

__all__ = ["Store", "BadEntry"]

#: The format of the file; a store written by another format is refused.
FORMAT = "1"
#: How long a write waits for another process's transaction, in seconds.
BUSY_TIMEOUT = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS asynckit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO asynckit_meta VALUES ('format', '1');
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    function TEXT NOT NULL,
    size INTEGER NOT NULL,
    checksum BLOB NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_function ON results (function);
"""


class BadEntry(Exception):
    """An entry that is missing or does not load (the caller recomputes it)."""


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


def _close(connection: sqlite3.Connection) -> None:
    connection.close()


class Store:
    """A file of pickled task results: ``Pool(store="results.db")`` makes one.

    ``Store(path)`` opens the SQLite database at ``path``, creating it if it
    is missing. A path in a directory that does not exist, a file that is not
    an SQLite database, or one that is not an asynckit store raises at once,
    naming the path. Safe for many threads and for several processes sharing
    one file.

    - :meth:`entries` lists ``(function, count, bytes)`` per function;
    - :meth:`clear` removes every entry, or one function's;
    - :meth:`statistics` counts this store's lookups, hits, row reads and writes.

    The same from a shell: ``python -m asynckit.store PATH`` lists the
    entries, ``python -m asynckit.store PATH --clear [FUNCTION]`` removes them.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"store must be a path (str or os.PathLike), "
                            f"not {type(path).__name__}")
        self.path: Path = Path(path).resolve()
        folder = self.path.parent
        if not folder.is_dir():
            raise FileNotFoundError(f"store {str(path)!r}: the directory {str(folder)!r} "
                                    f"does not exist")
        if self.path.is_dir():
            raise IsADirectoryError(f"store {str(path)!r} is a directory, not a file")
        if not os.access(folder, os.W_OK) or (self.path.exists()
                                              and not os.access(self.path, os.W_OK)):
            raise PermissionError(f"store {str(path)!r} is not writable")
        self._mutex = threading.Lock()
        # What statistics() counts.
        self.lookups: int = 0
        self.hits: int = 0
        self.reads: int = 0
        self.writes: int = 0
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._connection: sqlite3.Connection
        connection = self._connect()
        try:
            self._open(connection)
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        """The connection, opened again if the store was closed (a value of a
        shut-down pool used later still reads its row)."""
        finalizer = self._finalizer
        if finalizer is not None and finalizer.alive:
            return self._connection
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise ValueError(f"store {str(self.path)!r} cannot be opened: {error}") from None
        self._connection = connection
        # Closed when the store goes, or at exit (after the exit hook that
        # finishes pending work: weakref's atexit runs after threading's).
        self._finalizer = weakref.finalize(self, _close, connection)
        return connection

    def _open(self, connection: sqlite3.Connection) -> None:
        # Another process creating the file or switching it to WAL holds a
        # lock that SQLite's busy handler does not wait for (journal_mode
        # fails at once): wait for it here, a bounded backoff.
        deadline = time.monotonic() + BUSY_TIMEOUT
        delay = 0.005
        while True:
            try:
                return self._open_once(connection)
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise ValueError(f"store {str(self.path)!r} cannot be opened: "
                                     f"{error}") from None
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"store {str(self.path)!r} stayed locked by another "
                                       f"process for {BUSY_TIMEOUT:.0f} s") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _open_once(self, connection: sqlite3.Connection) -> None:
        try:
            tables = {name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and "asynckit_meta" not in tables:
                raise ValueError(f"{str(self.path)!r} is an SQLite database but not an "
                                 f"asynckit store (its tables: {', '.join(sorted(tables))}): "
                                 f"choose another path")
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if mode.lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("BEGIN IMMEDIATE")  # two processes may create it at once
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            (found,) = connection.execute(
                "SELECT value FROM asynckit_meta WHERE name = 'format'").fetchone()
        except sqlite3.OperationalError:
            raise  # locked, busy: _open waits and tries again
        except sqlite3.DatabaseError as error:
            raise ValueError(self._corrupt(error)) from None
        if found != FORMAT:
            raise ValueError(f"store {str(self.path)!r} has format {found!r}; this asynckit "
                             f"reads format {FORMAT!r}: choose another path")

    def _corrupt(self, error: BaseException) -> str:
        return (f"store {str(self.path)!r} is not a readable SQLite database ({error}): "
                f"it is corrupt or not a store; delete the file to start afresh")

    # -- what the pool uses --------------------------------------------------------

    def contains(self, key: str) -> bool:
        """Whether an entry for ``key`` exists (its payload is not read)."""
        with self._mutex:
            self.lookups += 1
            try:
                row = self._connect().execute(
                    "SELECT 1 FROM results WHERE key = ?", (key,)).fetchone()
            except sqlite3.DatabaseError as error:
                raise RuntimeError(self._corrupt(error)) from None
            if row is not None:
                self.hits += 1
            return row is not None

    def load(self, key: str) -> Any:
        """The result stored under ``key``; ``BadEntry`` if it is missing,
        fails its checksum or does not unpickle."""
        with self._mutex:
            self.reads += 1
            try:
                row = self._connect().execute(
                    "SELECT checksum, payload FROM results WHERE key = ?", (key,)).fetchone()
            except sqlite3.DatabaseError as error:
                raise RuntimeError(self._corrupt(error)) from None
        if row is None:
            raise BadEntry("the entry is gone (cleared meanwhile?)")
        checksum, payload = row
        if _checksum(payload) != checksum:
            raise BadEntry("its checksum does not match: the entry is damaged")
        try:
            return pickle.loads(payload)
        except Exception as error:
            raise BadEntry(f"it does not unpickle ({type(error).__name__}: {error})") from None

    def put(self, key: str, function: str, value: Any, label: str) -> bool:
        """Store ``value`` under ``key`` (replacing an entry); False if it cannot
        be pickled (a warning names the task: the value still works in this run)."""
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            warnings.warn(f"asynckit: the result of {label} cannot be pickled "
                          f"({type(error).__name__}: {error}), so it is not stored in "
                          f"{str(self.path)!r}; a rerun runs it again",
                          RuntimeWarning, stacklevel=2)
            return False
        row = (key, function, len(payload), _checksum(payload), payload)
        with self._mutex:
            connection = self._connect()
            try:
                # One transaction: the row is there whole, or not at all.
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                                       row)
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as error:
                warnings.warn(f"asynckit: the result of {label} could not be stored in "
                              f"{str(self.path)!r} ({type(error).__name__}: {error}); "
                              f"a rerun runs it again", RuntimeWarning, stacklevel=2)
                return False
            self.writes += 1
        return True

    # -- inspecting ------------------------------------------------------------------

    def entries(self) -> list[tuple[str, int, int]]:
        """``(function, entries, bytes)`` per function, by function name."""
        with self._mutex:
            return [(name, count, size) for name, count, size in self._connect().execute(
                "SELECT function, COUNT(*), SUM(size) FROM results "
                "GROUP BY function ORDER BY function")]

    def clear(self, function: str | None = None) -> int:
        """Remove every entry, or those of ``function`` (its ``module.qualname``,
        as :meth:`entries` shows it); returns how many were removed."""
        if function is not None and not isinstance(function, str):
            raise TypeError(f"function must be a name (str), not {type(function).__name__}")
        with self._mutex:
            if function is None:
                cursor = self._connect().execute("DELETE FROM results")
            else:
                cursor = self._connect().execute(
                    "DELETE FROM results WHERE function = ?", (function,))
            return cursor.rowcount

    def statistics(self) -> dict[str, int]:
        """What this store did in this process: ``lookups`` (calls looked up),
        ``hits``, ``reads`` (payloads read, on first use) and ``writes``."""
        return {"lookups": self.lookups, "hits": self.hits, "reads": self.reads,
                "writes": self.writes}

    def close(self) -> None:
        """Close the database connection now (it is closed when the store is
        dropped, and at exit, anyway); a later use opens it again."""
        with self._mutex:
            if self._finalizer is not None:
                self._finalizer()

    def __repr__(self) -> str:
        return f"<asynckit.Store {str(self.path)!r}>"
