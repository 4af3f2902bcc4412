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
    """``timeout`` as seconds (or None), or a TypeError naming ``what`` took it.

    The one check of every ``timeout=`` argument (``bool`` is refused: a
    ``True`` meant as "wait" is a mistake anywhere but ``AsyncValue.get``).
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{what} takes a timeout in seconds or None, not {timeout!r}")
    return timeout
