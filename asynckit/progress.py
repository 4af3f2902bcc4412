"""Progress bars: ``pool.wait(progress=True)`` and ``pool.map(..., progress=True)``.

The bar is driven by settle callbacks (``value.add_callback``), so it moves
exactly when a task settles and nothing polls. tqdm is the optional extra
``asynckit[progress]``; this module, which imports it, is imported only when
a bar is asked for, and raises an ImportError naming the extra without it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from typing import Any

from .node import DONE, Node
from .waiting import add_callback

__all__ = ["track"]


try:
    from tqdm import tqdm as _tqdm  # type: ignore[import-untyped, unused-ignore]
except ImportError as _missing:
    raise ImportError(
        "progress=True draws its bar with tqdm, which is not installed: "
        "pip install 'asynckit[progress]' (or pip install tqdm)") from _missing


class _Bar(_tqdm):  # type: ignore[misc, unused-ignore]
    # tqdm's default monitor is a thread that wakes every 10 s; this bar is
    # moved by settle callbacks and needs none (an idle pool costs no CPU).
    monitor_interval = 0


class Tracker:
    """A tqdm bar of settled/total for a fixed set of task nodes.

    Each node's settle callback moves the bar by one; the bar closes itself
    when the last one settles. ``close()`` closes it earlier (``pool.wait``
    calls it before returning, so the bar is finished when ``wait`` returns,
    even if the last callback has not run yet: it recounts first).
    """

    def __init__(self, nodes: list[Node], desc: str) -> None:
        self.nodes: list[Node] = nodes
        self.total: int = len(nodes)
        self.settled: int = 0
        self.closed: bool = False
        self.lock: threading.Lock = threading.Lock()
        self.bar: Any = _Bar(total=self.total, desc=desc, unit="task",  # tqdm is untyped
                             file=sys.stderr, leave=True, dynamic_ncols=True)
        if self.total == 0:
            self.close()
            return
        for node in nodes:
            add_callback(node, self._settled)

    def _settled(self, node: Node) -> None:
        with self.lock:
            if self.closed:
                return
            self.settled += 1
            self.bar.update(1)
            if self.settled >= self.total:
                self._close()

    def close(self) -> None:
        """Bring the bar up to date and close it (idempotent)."""
        with self.lock:
            if self.closed:
                return
            settled = sum(1 for node in self.nodes if node.state >= DONE)
            if settled > self.settled:
                self.bar.update(settled - self.settled)
                self.settled = settled
            self._close()

    def _close(self) -> None:
        self.closed = True
        self.nodes = []  # hold no task records once the bar is done
        self.bar.close()


def track(nodes: Iterable[Node], desc: str) -> Tracker:
    """Draw a bar of how many of ``nodes`` have settled, on stderr.

    Raises :class:`ImportError` naming ``asynckit[progress]`` without tqdm.
    """
    return Tracker(list(nodes), desc)
