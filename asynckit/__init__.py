"""asynckit: run your existing functions in parallel, get their results as values.

The documentation (install, quickstart, user guide, API reference, changes) is
at https://asynckit.github.io/asynckit/; the README, with a tour, is on
https://pypi.org/project/asynckit/ and https://github.com/asynckit/asynckit.
"""

from typing import TYPE_CHECKING, Any

from .asynclist import AsyncList
from .errors import CancelledError
from .helpers import as_completed, cancel, exception, future, state, unwrap
from .inputs import opaque
from .pool import Pool, do, task, wait
from .value import AsyncValue

if TYPE_CHECKING:
    from .dot import to_dot
    from .store import Store

__all__ = [
    "AsyncList",
    "AsyncValue",
    "CancelledError",
    "Pool",
    "Store",
    "as_completed",
    "cancel",
    "do",
    "exception",
    "future",
    "opaque",
    "state",
    "task",
    "to_dot",
    "unwrap",
    "wait",
]

__version__ = "1.0.0"


def __getattr__(name: str) -> Any:
    # asynckit.Store on first use: sqlite3, pickle and hashlib are not
    # imported for a program that keeps no results.
    if name == "Store":
        from .store import Store

        return Store
    if name == "to_dot":  # asynckit.to_dot on first use, too
        from .dot import to_dot

        return to_dot
    raise AttributeError(f"module 'asynckit' has no attribute {name!r}")
