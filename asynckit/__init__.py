"""asynckit: run your existing functions in parallel, get their results as values.

The documentation (install, quickstart, user guide, API reference, changes) is
at https://asynckit.github.io/asynckit/; the README, with a tour, is on
https://pypi.org/project/asynckit/ and https://github.com/asynckit/asynckit.
"""

from .asynclist import AsyncList
from .dot import to_dot
from .errors import CancelledError
from .helpers import as_completed, cancel, exception, future, state, unwrap
from .inputs import opaque
from .pool import Pool, do, task, wait
from .store import Store
from .value import AsyncValue

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
