"""Exceptions raised by asynckit."""

from __future__ import annotations

import concurrent.futures

__all__ = ["CancelledError"]


class CancelledError(concurrent.futures.CancelledError):
    """The task was cancelled before it ran, or depends on one that was.

    A subclass of :class:`concurrent.futures.CancelledError`, so code written
    for ``concurrent.futures`` catches it unchanged.
    """
