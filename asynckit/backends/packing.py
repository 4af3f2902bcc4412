"""The processes backend's packed map: a chunk of ``pool.map``'s calls as one task.

``pool.map`` of a plain function (``mapping``) hands the backend its calls
a chunk at a time; ``Packing.pack`` makes each chunk *one* task: one record,
one :class:`~asynckit.asynclist.ChunkValue`, one pickle (made in the caller,
in C, refusing AsyncValues on the way: such a chunk goes call by call), one
trip to a worker process (``pickling.run_packed``) and one settle, whose
result is the list of the chunk's results. A call that raised fails its own
item only: the chunk fails with the first such error, and keeps the results
before it for the iteration. The chunks travel as batches (``batches``),
at most ``PACKED_IN_FLIGHT`` per process at once.
"""

from __future__ import annotations

import collections
import copyreg
import io
import math
import pickle
from collections.abc import Iterable, Sequence
from typing import Any

from ..admission import start_all
from ..asynclist import PROXY_TYPES, ChunkValue
from ..graph import settle
from ..inputs import opaque
from ..node import QUEUED, Node, name_of
from ..protocols import PoolHandle
from ..run import fail
from .batches import DEFAULT_CHUNK_MAX, DEFAULT_CHUNK_SECONDS, Batch, Batching
from .pickling import by_reference

__all__ = ["Packing", "PACKED_CHUNK_MAX"]

_HIGHEST = pickle.HIGHEST_PROTOCOL
_new_chunk = ChunkValue.__new__

#: A packed chunk (one task for the whole chunk, see ``Packing.pack``) holds
#: at most this many calls by default (``pool.map`` without ``chunksize``).
PACKED_CHUNK_MAX = 16384


class Packing(Batching):
    """The packing half of ``executor.ExecutorBackend`` (see the module docstring)."""

    def pack_size(self, fn: Any, chunksize: int | None, iterables: Sequence[Iterable[Any]]) -> int:
        """``pool.map`` of a plain function: chunks of how many calls to pack (0: none).

        The stdlib process pool (ours, or a user's ``ProcessPoolExecutor``)
        with chunks of more than one call. Without ``chunksize`` (ours only):
        ``multiprocessing.Pool.map``'s rule, ``ceil(len / (4 * worker_count))``
        calls, at most ``PACKED_CHUNK_MAX`` (64 for an input without a length)
        and, for a function already measured, about ``DEFAULT_CHUNK_SECONDS`` of work.
        """
        if not self.pickles or chunksize == 1 or (chunksize is None and not self.owned):
            return 0
        if chunksize is not None:
            return chunksize
        try:
            count = min(len(it) for it in iterables)  # type: ignore[arg-type]
            most = PACKED_CHUNK_MAX
        except (TypeError, ValueError):  # no length (or no iterables)
            count, most = 256 * self.worker_count, DEFAULT_CHUNK_MAX
        size = max(1, min(most, math.ceil(count / (4 * self.worker_count))))
        each = self.cost.get(id(fn))
        return size if each is None else max(1, min(size, int(DEFAULT_CHUNK_SECONDS / each)))

    def pack(self, pool: PoolHandle, fn: Any, items: list[Any], star: bool,
             ) -> ChunkValue[Any] | None:
        """A chunk of ``pool.map``'s calls as one task: one node, one pickle, one
        executor call, one settle; its value's result is the list of the calls'.

        On the caller's thread. None if the chunk cannot travel packed (an
        item holds an AsyncValue, or it does not pickle): its calls then go one
        by one, which also names what does not pickle.
        """
        payload = _dump_plain((by_reference(fn), items, star))
        if payload is None:
            return None
        if self.executor is None and self.owned:
            self._start_processes()
        node = Node(pool, self, fn, None, None, None,
                    f"{name_of(fn)} x{len(items)} (a pool.map chunk)")
        proxy: ChunkValue[Any] = _new_chunk(ChunkValue)
        proxy._self_task = node
        proxy._self_partial = []
        proxy._self_count = len(items)
        node.proxy = proxy
        node.state = QUEUED
        pool.drain.live.add(node)
        self.ready.append(Batch([node], payload, True))
        self._wake()
        return proxy

    def _start_processes(self) -> None:
        raise NotImplementedError

    def _settle_packed(self, node: Node, results: list[Any],
                       failures: list[tuple[int, BaseException]], took: float) -> None:
        """A packed chunk is back: its value's result is every call's, in order;
        if calls raised, it fails with the first of them (see ``ChunkValue``)."""
        proxy: ChunkValue[Any] = node.proxy
        count = proxy._self_count
        node.took = took
        if self.owned:
            if len(self.cost) > 1000:
                self.cost.clear()
            self.cost[id(node.fn)] = took / max(count, 1)
        if not failures:
            node.fn = None
            start_all(settle(node, results))
            return
        index, error = failures[0]
        proxy._self_partial = results[:index]
        if len(failures) > 1:
            error.add_note(f"asynckit: {len(failures) - 1} more of the {count} calls in this "
                           f"pool.map chunk failed too (this is the first in input order)")
        start_all(fail(node, error))


class _Refused(Exception):
    pass


def _refuse(obj: Any) -> Any:
    raise _Refused


# An AsyncValue pickles as its result (a use: it blocks), an opaque() as
# itself: a packed chunk holds neither (copyreg's reducers still apply).
_PLAIN_ONLY = collections.ChainMap({kind: _refuse for kind in (*PROXY_TYPES, opaque)},
                                   copyreg.dispatch_table)


def _dump_plain(obj: Any) -> bytes | None:
    """``obj`` pickled, or None if it holds an AsyncValue or an ``opaque()``
    anywhere, or does not pickle. In C, with no pass of our own over it."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, _HIGHEST)
    pickler.dispatch_table = _PLAIN_ONLY
    try:
        pickler.dump(obj)
    except Exception:
        return None
    return buffer.getvalue()


