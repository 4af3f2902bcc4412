"""Exceptions raised by asynckit."""

from __future__ import annotations

import concurrent.futures

__all__ = ["CancelledError", "check_timeout"]


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
