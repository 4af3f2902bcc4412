"""Unobserved errors: a failure nobody looked at is logged, once.

A failure and every dependent that failed because of it share one
:class:`Reporter`, so observing any of them (a use, ``get()``,
``is_error()``, ``asynckit.exception``, a Future) observes the failure, and it
is logged only once: when the last node holding it is collected, or at exit.
"""

from __future__ import annotations

import _thread
import logging
import sys
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .node import Node

__all__ = ["Reporter", "observe", "report_unobserved", "forget_after_fork"]

_log = logging.getLogger("asynckit")


class Reporter:
    """Logs a failure nobody observed, once, when the last node holding it dies."""

    __slots__ = ("error", "tb", "name", "observed", "__weakref__")

    def __init__(self, error: BaseException, tb: TracebackType | None, name: str | None,
                 observed: bool = False) -> None:
        self.error: BaseException = error
        self.tb: TracebackType | None = tb  # re-raised with this one: uses do not grow it
        self.name: str | None = name
        self.observed: bool = observed
        if not observed:
            _unobserved.add(self)

    def report(self) -> None:
        if self.observed:
            return
        self.observed = True
        _log_unobserved(self.error, self.tb, self.name)

    def __del__(self) -> None:
        if self.observed:
            return
        ast = sys.modules.get("ast")
        if ast is not None and sys._getframe(1).f_code is ast.parse.__code__:
            # Collected in the middle of ast.parse (pytest, linters do that).
            # Formatting a traceback parses source to place its carets, and a
            # nested ast.parse breaks the outer one on CPython 3.11
            # ("AST constructor recursion depth mismatch"): log from a thread,
            # started without waiting for it (Thread.start would release the
            # GIL right here, and the thread would parse in the middle).
            self.observed = True
            _deferred.append((self.error, self.tb, self.name))
            _thread.start_new_thread(_log_deferred, ())
            return
        self.report()


_deferred: list[tuple[BaseException, TracebackType | None, str | None]] = []
_unobserved: weakref.WeakSet[Reporter] = weakref.WeakSet()


def _log_deferred() -> None:
    # Also called at exit, so a report is never lost; list.pop is atomic, so
    # none is logged twice.
    while _deferred:
        try:
            _log_unobserved(*_deferred.pop(0))
        except IndexError:
            return


def _log_unobserved(error: BaseException, tb: TracebackType | None, name: str | None) -> None:
    try:
        _log.warning("asynckit: task %s failed and nobody observed its error",
                     name or "?", exc_info=(type(error), error, tb))
    except Exception:  # logging torn down at interpreter exit
        pass


def observe(node: Node) -> None:
    """The user has seen ``node``'s error: it will not be logged."""
    reporter = node.reporter
    if reporter is not None:
        reporter.observed = True


def report_unobserved() -> None:
    """Log every failure still alive and unobserved (called at interpreter exit)."""
    _log_deferred()
    for reporter in list(_unobserved):
        reporter.report()


def forget_after_fork() -> None:
    """In a child made by ``os.fork``: the parent's failures are the parent's to report."""
    for reporter in list(_unobserved):
        reporter.observed = True
    _deferred.clear()
