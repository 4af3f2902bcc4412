"""asynckit: run your existing functions in parallel, get their results as values.

See README.rst for a tour and ``shared/API.md`` for the contract.
"""

from .asynclist import AsyncList
from .dot import to_dot
from .errors import CancelledError
from .helpers import as_completed, cancel, exception, future, state, unwrap
from .pool import Pool, do, task, wait
from .value import AsyncValue

__all__ = [
    "AsyncList",
    "AsyncValue",
    "CancelledError",
    "Pool",
    "as_completed",
    "cancel",
    "do",
    "exception",
    "future",
    "state",
    "task",
    "to_dot",
    "unwrap",
    "wait",
]

__version__ = "0.1.0"
