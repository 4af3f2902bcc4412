"""The store's side of a ``cache=True`` call: look it up, and the lazy result of a hit.

:func:`look_up` keys the call (``keys.call_key``) and asks the store; a hit
settles at once with :class:`Stored` as ``node.remote`` (the lazy hook of
``value.outcome``): the row is read and unpickled on the value's first use,
and a bad row is treated as a miss (run again, and overwritten). A miss
runs with a spec of its own that carries its key; ``TaskSpec.save`` (called
by ``run.finish``) stores its result.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import warnings
from typing import TYPE_CHECKING, Any

from .graph import settle
from .inputs import plain
from .keys import call_key
from .node import Node, name_of
from .value import AsyncValue, new_value

if TYPE_CHECKING:  # pragma: no cover
    from .protocols import Backend, PoolHandle
    from .store import Store
    from .task import TaskSpec

__all__ = ["Stored", "look_up", "open_store"]


def open_store(store: str | os.PathLike[str], backend: str, client: Any) -> Store:
    """``Pool(store=...)``: the store; refused on Dask."""
    if client is not None or backend == "dask":
        raise ValueError("store= is not supported on the Dask backend (results stay "
                         "on the cluster); use threads or processes for a resumable run")
    # Imported here: sqlite3, pickle and hashlib only for a pool with a store.
    from .store import Store

    return Store(store)


def look_up(pool: PoolHandle, spec: TaskSpec, fn: Any, args: tuple[Any, ...],
            kwargs: dict[str, Any] | None, name: str | None, after: Node | None,
            backend: Backend | None) -> AsyncValue[Any]:
    """A ``cache=True`` call: its key (a ``TypeError`` here, at the call, for an
    argument that cannot be keyed); a hit settles at once, its result read on
    first use; a miss is submitted with the call's own spec, which saves its result."""
    label = name or name_of(fn)
    key = call_key(spec, fn, args, kwargs, label)
    call, store = spec.for_call(key), spec.store
    if after is not None or store is None or not store.contains(key):
        return pool._submit(fn, args, kwargs, call, name, after, backend)
    node = Node(pool, backend, None, None, None, call, label)
    node.remote = Stored(store, key, spec.function, label, fn, args, kwargs)
    proxy = new_value(node)
    pool.drain.live.add(node)
    settle(node)  # nothing depends on it yet: this makes nothing ready
    return proxy


class Stored:
    """``node.remote`` of a cache hit: reads and unpickles its row on first use.

    A bad row (damaged, gone, not unpicklable) is a miss: the call runs here,
    on the thread that uses the value, and its result overwrites the row.
    """

    __slots__ = ("store", "key", "function", "label", "fn", "args", "kwargs", "here",
                 "value", "mutex")

    def __init__(self, store: Store, key: str, function: str, label: str, fn: Any,
                 args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> None:
        self.store: Store = store
        self.key: str = key
        self.function: str = function
        self.label: str = label
        # Kept only to run the call again if its row turns out bad.
        self.fn: Any = fn
        self.args: Any = args
        self.kwargs: dict[str, Any] | None = kwargs
        self.here: bool = False
        self.value: Any = None
        self.mutex: threading.Lock = threading.Lock()

    def result(self) -> Any:
        if self.here:
            return self.value
        with self.mutex:  # one load, however many threads use the value at once
            if not self.here:
                from .store import BadEntry  # loaded with the store: no import cost here

                try:
                    self.value = self.store.load(self.key)
                except BadEntry as why:
                    warnings.warn(f"asynckit: the stored result of {self.label} in "
                                  f"{str(self.store.path)!r} is not usable ({why}): "
                                  f"running it again", RuntimeWarning, stacklevel=2)
                    self.value = self._run()
                self.here = True
                self.fn = self.args = self.kwargs = None
        return self.value

    def _run(self) -> Any:
        args = [plain(arg) for arg in self.args]
        kwargs = {name: plain(arg) for name, arg in (self.kwargs or {}).items()}
        value = self.fn(*args, **kwargs)
        if inspect.iscoroutine(value):
            value = _run_coroutine(value)
        self.store.put(self.key, self.function, value, self.label)
        return value


def _run_coroutine(coroutine: Any) -> Any:
    # On a thread of its own: the using thread may be inside an event loop.
    box: list[Any] = []

    def run() -> None:
        try:
            box.append((True, asyncio.run(coroutine)))
        except BaseException as error:
            box.append((False, error))

    thread = threading.Thread(target=run, name="asynckit-rerun")
    thread.start()
    thread.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value
