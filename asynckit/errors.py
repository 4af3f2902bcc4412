"""Exceptions raised by asynckit."""

from __future__ import annotations

import concurrent.futures

__all__ = ["CancelledError", "check_timeout", "check_buffersize"]


class CancelledError(concurrent.futures.CancelledError):
    """The task was cancelled before it ran, or depends on one that was.

    A subclass of :class:`concurrent.futures.CancelledError`, so code written
    for ``concurrent.futures`` catches it unchanged.
    """


def check_timeout(timeout: object, what: str) -> float | None:
    """``timeout`` as seconds (or None), or an error naming ``what`` took it.

    The one check of every ``timeout=`` argument: not a number (``bool`` is
    refused too: a ``True`` meant as "wait" is a mistake anywhere but
    ``AsyncValue.get``) is a TypeError; NaN is a ValueError (it compares
    false with everything, so a deadline made of it never comes). A negative
    timeout means "do not wait", as in ``concurrent.futures``.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} takes a timeout in seconds or None, not {timeout!r}")
    if timeout != timeout:
        raise ValueError(f"{what} takes a timeout in seconds or None, not NaN")
    return timeout


def check_buffersize(buffersize: object) -> int | None:
    """``pool.map``'s ``buffersize``: None, or an int >= 1 (as Python 3.14's
    ``Executor.map`` checks it, except that ``True`` is refused too)."""
    if buffersize is None:
        return None
    if isinstance(buffersize, bool) or not isinstance(buffersize, int):
        raise TypeError(f"buffersize must be an int >= 1 or None, not {buffersize!r}")
    if buffersize < 1:
        raise ValueError(f"buffersize must be None or >= 1, not {buffersize}")
    return buffersize
