"""Where tasks run, and how a pool's backend is chosen (:func:`make_backend`).

Every backend derives from ``protocols.Backend`` (``start`` plus operations
with no-op defaults): ``threads`` (worker threads, the default), ``loop``
(``async def`` tasks on an event loop), ``executor`` (any
``concurrent.futures.Executor``; ``backend="processes"`` is one of ours) and
``dask`` (a ``distributed.Client``). A backend knows nothing of the Pool
class: it gets the pool's name and a weak reference to it.
Nothing here imports ``dask`` or ``distributed`` until a Dask pool is made.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from ..protocols import Backend, PoolHandle

__all__ = ["make_backend", "BACKENDS"]

BACKENDS = ("threads", "processes", "dask")
_CHOICES = ("valid choices: backend='threads' (default), 'processes' or 'dask' "
            "(with client= or address=), or executor=<a concurrent.futures.Executor>")


def make_backend(pool: PoolHandle, backend: str, worker_count: int,
                 executor: concurrent.futures.Executor | None = None,
                 client: Any = None, address: str | None = None) -> Backend:
    """The backend for ``Pool(backend=..., executor=..., client=..., address=...)``.

    Raises ValueError for a combination that makes no sense, listing the
    valid choices, and ImportError (naming ``asynckit[dask]``) when Dask is
    asked for but ``distributed`` is not installed.
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; {_CHOICES}")
    if executor is not None and (client is not None or address is not None):
        raise ValueError(f"pass either executor= or client=/address=, not both; {_CHOICES}")
    if client is not None and address is not None:
        raise ValueError("pass either client= or address=, not both (address= makes a "
                         "client for you)")

    if executor is not None:
        if backend != "threads":
            raise ValueError(f"executor= runs the tasks itself: leave backend at its "
                             f"default, not {backend!r}; {_CHOICES}")
        if not isinstance(executor, concurrent.futures.Executor):
            raise TypeError(f"executor= must be a concurrent.futures.Executor, not "
                            f"{type(executor).__name__}")
        from .executor import ExecutorBackend

        return ExecutorBackend(pool, executor, worker_count)

    if client is not None or address is not None or backend == "dask":
        if backend == "processes":
            raise ValueError(f"client=/address= are for backend='dask', not "
                             f"'processes'; {_CHOICES}")
        try:
            import distributed
        except ImportError as error:
            raise ImportError("the Dask backend needs the distributed package: "
                              "pip install asynckit[dask]") from error
        if client is None:
            if address is not None and not isinstance(address, str):
                raise TypeError(f"address= must be a scheduler address such as "
                                f"'tcp://host:8786', not {type(address).__name__}")
            # No address: distributed.Client() starts a local cluster, as it does for dask users.
            client = distributed.Client(address)  # type: ignore[no-untyped-call]
        elif not isinstance(client, distributed.Client):
            raise TypeError(f"client= must be a distributed.Client, not "
                            f"{type(client).__name__}")
        from .dask import DaskBackend

        return DaskBackend(pool, client)

    if backend == "processes":
        from .executor import ExecutorBackend

        return ExecutorBackend(pool, None, worker_count)

    from .threads import ThreadBackend

    return ThreadBackend(pool, worker_count)
