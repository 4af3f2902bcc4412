"""The Dask backend's ear: hearing a client's futures settle, in bursts.

``Future.add_done_callback`` costs, per future, a wake of Dask's event loop,
a coroutine there and a hop to Dask's callback thread. :class:`Watch` takes
the futures submitted in a burst to the loop in one call, waits on each
future's state as ``distributed``'s own done-callback does (with a plain
waiter, not a coroutine), and hands those heard in one turn of the loop to
one settling thread in one hop. Where ``distributed`` or ``asyncio`` differ
from what it expects, it falls back to ``add_done_callback``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from functools import partial
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from ..node import Node
from ..value import describe

if TYPE_CHECKING:  # pragma: no cover
    from .dask import _Timed

    Item = tuple[Any, Node, _Timed | None]  # a Dask future, its node, its deadline

__all__ = ["Watch"]

_log = logging.getLogger("asynckit")


class Watch:
    """Hears the futures of one client settle, in bursts.

    ``Future.add_done_callback`` costs, per future, a wake of Dask's event
    loop, a coroutine there, and a hop to Dask's callback thread. Here
    ``add`` (any thread) queues a future, and only the first of a burst asks
    the loop to take them all (``_take``); there each waits on its Dask
    state's event by a plain waiter, and those heard in one turn of the loop
    are settled in one hop to the settling thread, in order.
    """

    def __init__(self, client: Any, settled: Callable[[Any, Node, _Timed | None], None]) -> None:
        self.client = client
        self.settled = settled
        self.mutex = threading.Lock()
        self.new: list[Item] = []  # guarded by mutex
        self.heard: list[Item] = []  # on the loop only
        self.handovers = _settling()

    def add(self, future: Any, node: Node, timed: _Timed | None) -> None:
        with self.mutex:
            self.new.append((future, node, timed))
            if len(self.new) > 1:
                return  # a take is on its way
        self.client.loop.add_callback(self._take)

    def _take(self) -> None:
        with self.mutex:
            new, self.new = self.new, []
        for item in new:
            self._wait(item)

    def _wait(self, item: Item) -> None:
        future = item[0]
        if future.status != "pending":  # as distributed's done_callback: not "pending"
            self._heard(item)
            return
        try:
            waiters = future._state._get_event()._waiters  # asyncio.Event's
        except AttributeError:  # another distributed or asyncio: the public way
            future.add_done_callback(lambda future: self.settled(*item))
            return
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        waiter.add_done_callback(partial(self._woken, item, waiters))

    def _woken(self, item: Item, waiters: Any, waiter: Any) -> None:
        if waiter in waiters:  # asyncio.Event.wait's own waiter removes itself so
            waiters.remove(waiter)
        if not waiter.cancelled():
            self._wait(item)  # "pending" again (retried) waits again

    def _heard(self, item: Item) -> None:
        self.heard.append(item)
        if len(self.heard) == 1:
            asyncio.get_running_loop().call_soon(self._hand_over)

    def _hand_over(self) -> None:
        heard, self.heard = self.heard, []
        self.handovers.put((self._settle, heard))

    def _settle(self, heard: list[Item]) -> None:
        for item in heard:
            try:
                self.settled(*item)
            except BaseException:  # as Dask logs a done-callback's error, and goes on
                _log.exception("asynckit: settling %s from its Dask future failed",
                               describe(item[1]))


_handovers: SimpleQueue[tuple[Callable[[list[Item]], None], list[Item]]] | None = None
_handovers_lock = threading.Lock()


def _settling() -> SimpleQueue[tuple[Callable[[list[Item]], None], list[Item]]]:
    """The queue of the one thread that settles Dask tasks: started with the
    first Dask pool (in the program's flow: from 3.12 no thread starts while
    the interpreter exits), made afresh in a forked child. A put costs a C
    queue's, where an executor's submit made a Future and a work item."""
    global _handovers
    with _handovers_lock:
        if _handovers is None:
            _handovers = SimpleQueue()
            threading.Thread(target=_serve, args=(_handovers,), daemon=True,
                             name="asynckit-dask-settle").start()
        return _handovers


def _serve(handovers: SimpleQueue[tuple[Callable[[list[Item]], None], list[Item]]]) -> None:
    while True:
        settle, heard = handovers.get()
        settle(heard)  # logs its own errors (Watch._settle)
        del settle, heard


def _forget_in_child() -> None:
    global _handovers
    _handovers = None


os.register_at_fork(after_in_child=_forget_in_child)
