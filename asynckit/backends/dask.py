"""Run tasks on a Dask cluster: each task is one ``client.submit``.

Results stay on the cluster. A settled task's node keeps its Dask future in
``node.remote``; the proxy's field stays unset, so the first use in this
process calls ``future.result()`` and only then does the data travel here.
A task whose arguments hold such values receives the futures themselves,
so Dask moves the data worker to worker. A task whose inputs are all Dask
tasks of the same client is submitted at once, before they finish: Dask
resolves the futures and schedules the graph itself.

Settling is heard in bursts (``dask_watch.Watch``), not by a done-callback per
future, and done on one shared thread ("asynckit-dask-settle").
Everything done there must not block: it settles the node and starts what
became ready, which is a queue put for the other backends and a
``client.submit`` (thread-safe, non-blocking) here. Results are never fetched
there; a task that needs a value from elsewhere that is not yet in this
process is submitted from a helper thread.

``@pool.task(timeout=s)``: Dask cannot interrupt a running task, so the
count starts when the task *starts on a worker*: the task is sent wrapped
in a small function that first logs an event to a topic of this backend's
(``Worker.log_event``; the scheduler forwards it to this client) and then
calls the function. When that event arrives here, a :class:`run.Deadline`
starts on the pool's timer. Time spent waiting for a free worker thread is
not counted; the start is heard here a few milliseconds after it happened
(one message worker -> scheduler -> client). At the deadline the value
fails with TimeoutError, and its dependents with it. The task runs on in
its worker thread (Dask cannot stop it), its future kept so that Dask
schedules around that busy thread (see ``expire``); what it returns or
raises then is discarded, logged at DEBUG, and its future released. While
it runs, a timed task's future is not handed to its dependents: they wait
for asynckit, so they never run on a result that came too late.

This module imports ``distributed``; ``asynckit.backends.make_backend``
imports it only when a Dask pool is made.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import pickle
import threading
import uuid
import weakref
from typing import Any

import cloudpickle  # type: ignore[import-untyped, unused-ignore]
from distributed import Client, Future

from ..admission import start_all
from ..asynclist import PROXY_TYPES, LazyList
from ..errors import CancelledError
from ..gates import release_slot
from ..graph import settle
from ..inputs import ATOMS, find_inputs, plain, ready_arguments
from ..node import PENDING, Node, _lock
from ..protocols import Backend, PoolHandle
from ..report import observe
from ..run import Deadline, claim, fail, finish
from ..value import describe
from .dask_watch import Watch
from .pickling import pickle_error

__all__ = ["DaskBackend"]

_log = logging.getLogger("asynckit")

# ``client.submit``'s own keyword arguments: a task's keyword argument with one
# of these names must not be passed as a keyword of ``submit`` itself.
_SUBMIT_KEYWORDS = frozenset({
    "key", "workers", "resources", "retries", "priority", "fifo_timeout",
    "allow_other_workers", "actor", "actors", "pure",
})

#: ``node.remote`` while a node is being submitted ahead of its inputs.
_SUBMITTING = object()


class _Remote:
    """``node.remote`` of a settled Dask task: its future, and its result once fetched.

    ``result()`` fetches once (Dask fetches again on every ``Future.result()``);
    ``here`` tells ``repr`` whether the value has arrived, without fetching it.
    """

    __slots__ = ("future", "here", "value", "mutex")

    def __init__(self, future: Any) -> None:
        self.future = future
        self.here = False
        self.value: Any = None
        self.mutex = threading.Lock()

    def result(self) -> Any:
        if not self.here:
            with self.mutex:
                if not self.here:
                    self.value = self.future.result()
                    self.here = True
        return self.value


class _Timed:
    """``node.remote`` of a call with a ``timeout`` while it is on Dask: one attempt.

    Its future is kept here, not in ``node.remote``, so that no dependent is
    handed it (Dask would run that dependent after a late result, or cancel
    it with the future). ``deadline`` is made once the start is heard and
    the future is known; ``over`` once the future has settled.
    Guarded by ``DaskBackend.mutex``.
    """

    __slots__ = ("node", "key", "timeout", "name", "future", "heard", "over", "deadline")

    def __init__(self, node: Node, key: str, timeout: float) -> None:
        self.node = node
        self.key = key
        self.timeout = timeout
        self.name = describe(node)  # for the DEBUG line of a late outcome
        self.future: Any = None
        self.heard = False  # the worker said it started
        self.over = False  # the future settled
        self.deadline: Deadline | None = None

    def start_count(self, backend: DaskBackend) -> None:
        """Under ``backend.mutex``, once both the future and the start are known."""
        self.deadline = Deadline(self.node, self.timeout, backend)


class _Fetch(Exception):
    """An argument holds a value that must be brought here first (blocking)."""


class DaskBackend(Backend):
    """Submits ready tasks to ``client``; their results stay on the cluster."""

    #: A task whose inputs are pending may be handed to Dask at once (``pending``).
    wants_pending = True
    #: Counted from the start on a worker; see the module's docstring.
    timeouts = True

    def __init__(self, pool: PoolHandle, client: Client) -> None:
        self.name: str = pool.name
        self.client: Any = client
        self.mutex = threading.Lock()
        #: The topic timed tasks announce their start on (subscribed on first use).
        self.topic: str | None = None
        #: Timed attempts submitted whose start has not been heard, by Dask key.
        self.starting: dict[str, _Timed] = {}
        #: Keys are ``name-<this backend's random prefix>-<count>``: unique across
        #: pools and clients, and each attempt (a retry too) draws a new count.
        self.prefix = uuid.uuid4().hex
        self.count = itertools.count()
        self.watch = Watch(client, self._settled)

    def size_label(self, worker_count: int) -> str:
        # worker_count means nothing here: the cluster's size is the cluster's.
        try:
            where = self.client.scheduler.address
        except Exception:  # closed, or not connected
            where = "?"
        return f"dask scheduler={where!r}"

    # -- submission ---------------------------------------------------------------

    def pending(self, node: Node, after: Node | None) -> None:
        """Hand Dask a task whose inputs are still running, if they all run on Dask.

        Dask then schedules the rest of the graph itself. Never a limited,
        retried or chained task: those need asynckit to decide when they run.
        Either way, on the caller's thread: a task that cannot be pickled
        raises here, at the call.
        """
        if node.spec is not None or after is not None or node.state != PENDING or any(
                self._future_of(inner) is None for inner in node.inputs):
            # Waits for asynckit (or a value not on Dask yet): check the plain
            # parts now, AsyncValues standing in for what they will send.
            error = _pickle_error(node, node.args, node.kwargs)
            if error is not None:
                start_all(settle(node, None, error))
                observe(node)
                raise error
            return
        with _lock:
            if node.state != PENDING or node.remote is not None:
                return
            node.remote = _SUBMITTING  # start() leaves this node to us
        self._raise_at_the_call(node, self._submit(node))

    def submit(self, node: Node) -> None:
        """On the caller's thread: a task that cannot be pickled raises here."""
        if claim(node):
            self._raise_at_the_call(node, self._submit(node))

    def start(self, node: Node) -> None:
        """Hand a ready node to Dask (from any thread; a pickling error fails it)."""
        if not claim(node):
            return  # cancelled meanwhile
        if node.remote is not None:
            return  # submitted ahead of its inputs; its callback settles it
        self._submit(node)

    @staticmethod
    def _raise_at_the_call(node: Node, error: BaseException | None) -> None:
        if error is not None:
            observe(node)
            raise error

    def _submit(self, node: Node, fetch: bool = False) -> pickle.PicklingError | None:
        """Submit ``node`` to Dask; returns the pickling error it failed with, if any."""
        try:
            if fetch:  # on a helper thread: bring every value here
                args, plain_kwargs = ready_arguments(node)
                kwargs = dict(plain_kwargs or {})
            else:
                args = tuple(self._travel(arg) for arg in node.args)
                kwargs = {key: self._travel(arg) for key, arg in (node.kwargs or {}).items()}
        except _Fetch:
            threading.Thread(target=self._submit, args=(node, True),
                             name=f"{self.name}-fetch", daemon=True).start()
            return None
        except BaseException as error:
            node.remote = None
            start_all(fail(node, error))
            return None
        # Dask pickles the task later, on its own thread, where a failure is
        # an ERROR traceback in its log and "Could not serialize" on the
        # future: test it here, and name the part that does not pickle.
        unpicklable = _pickle_error(node, args, kwargs)
        if unpicklable is not None:
            node.remote = None
            ready: list[Node] = []
            release_slot(node, ready)  # no retry: it would fail again
            start_all([*settle(node, None, unpicklable), *ready])
            return unpicklable
        key = f"{node.name or 'task'}-{self.prefix}-{next(self.count)}"
        spec = node.spec
        timed: _Timed | None = None
        try:
            if spec is not None and spec.timeout is not None:
                timed = self._timed(node, key, spec.timeout)
                future = self.client.submit(_start_then_call, self.topic, key, node.fn,
                                            args, kwargs, key=key, pure=False)
            elif _SUBMIT_KEYWORDS.isdisjoint(kwargs):
                future = self.client.submit(node.fn, *args, key=key, pure=False, **kwargs)
            else:
                future = self.client.submit(_call, node.fn, args, kwargs, key=key, pure=False)
        except BaseException as error:  # a closed client, ...
            if timed is not None:
                with self.mutex:
                    self.starting.pop(key, None)
            node.remote = None
            start_all(fail(node, error))
            return None
        if timed is None:
            node.remote = future
        else:
            with self.mutex:
                timed.future = future
                if timed.heard and not timed.over:
                    timed.start_count(self)
        self.watch.add(future, node, timed)
        return None

    # -- timeouts (see the module's docstring) -----------------------------------------

    def _timed(self, node: Node, key: str, timeout: float) -> _Timed:
        """Before submitting a timed attempt: listen for its start."""
        if self.topic is None:
            with self.mutex:
                if self.topic is None:
                    topic = f"asynckit-started-{uuid.uuid4().hex}"
                    # Sent before the task, on the same stream: the scheduler
                    # knows of us before the worker's event can reach it.
                    self.client.subscribe_topic(topic, self._heard_start)
                    self.topic = topic
        timed = _Timed(node, key, timeout)
        node.remote = timed
        with self.mutex:
            self.starting[key] = timed
        return timed

    def _heard_start(self, event: tuple[float, Any]) -> None:
        """On the client's event loop: a timed task started on a worker."""
        with self.mutex:
            timed = self.starting.pop(event[1], None)
            if timed is None:
                return  # settled already (or a second run after a lost worker)
            timed.heard = True
            if timed.future is not None:
                timed.start_count(self)

    def expire(self, node: Node, lent: bool) -> None:
        """At the deadline: let go of the attempt, but do not cancel its future.

        The task is running (the count starts then), and Dask cannot stop
        it: cancelling would only make the scheduler count that worker
        thread as free, and queue the next tasks behind it on that worker
        (measured: 20 tiny tasks waited 14.5 s for a stuck task to return,
        against 0.9-1.0 s when its future is kept). So the future stays
        until the task ends, then its outcome is discarded (``_settled``)
        and the future released, and with it the result on the worker.
        """
        if type(node.remote) is _Timed:
            node.remote = None  # the retry, if any, submits afresh

    def _finish_timed(self, timed: _Timed) -> bool:
        """A timed attempt's future settled: True if the outcome is still the call's."""
        with self.mutex:
            self.starting.pop(timed.key, None)  # a start heard later counts nothing
            timed.over = True
            deadline = timed.deadline
        return deadline is None or deadline.finish()

    def close(self) -> None:
        topic, self.topic = self.topic, None
        if topic is not None:
            try:
                self.client.unsubscribe_topic(topic)
            except Exception:  # the client closed first
                pass

    def _travel(self, obj: Any) -> Any:
        """``obj`` as it goes to Dask: our futures as futures, everything else plain.

        Rebuilds what Dask itself looks inside (list, tuple, namedtuple, set,
        dict values); anything else holding a remote value must be fetched.
        """
        kind = type(obj)
        if kind in PROXY_TYPES:
            inner = obj._self_task
            remote = inner.remote
            if remote is None:
                return obj.get()  # settled here: no wait
            future = self._future_of(inner)
            if future is not None:
                return future
            if type(remote) is LazyList:  # an AsyncList of (perhaps) remote items
                return [self._travel(item) for item in remote.items]
            raise _Fetch
        if kind is list or kind is set or kind is tuple or (
                isinstance(obj, tuple) and hasattr(obj, "_fields")):
            items = [self._travel(item) for item in obj]
            if all(new is old for new, old in zip(items, obj, strict=True)):
                return obj
            return kind(*items) if kind is not tuple and isinstance(obj, tuple) else kind(items)
        if kind is dict:
            pairs = [(self._key(key), self._travel(item)) for key, item in obj.items()]
            if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, obj.items(), strict=True)):
                return obj
            return dict(pairs)
        inputs = find_inputs((obj,), None)
        if inputs is None:
            return obj
        if any(inner.remote is not None for inner in inputs):
            raise _Fetch
        return plain(obj)

    def _future_of(self, node: Node) -> Any:
        """The Dask future of ``node`` if it is a task of our client (settled or
        submitted), else None."""
        remote = node.remote
        if type(remote) is _Remote:
            remote = remote.future
        if type(remote) is Future and remote.client is self.client:
            return remote
        return None

    def _key(self, key: Any) -> Any:
        # Dask does not look inside dict keys: they must be plain here.
        inputs = find_inputs((key,), None)
        if inputs is None:
            return key
        if any(inner.remote is not None for inner in inputs):
            raise _Fetch
        return plain(key)

    # -- completion (on the settling thread: never block) -------------------------------

    def _settled(self, future: Any, node: Node, timed: _Timed | None) -> None:
        status = future.status
        if timed is not None and not self._finish_timed(timed):
            _log.debug("asynckit: %s timed out after %g s and its Dask future is %s "
                       "now; its %s is discarded", timed.name, timed.timeout, status,
                       {"finished": "result", "error": "error"}.get(status, "outcome"))
            return
        if status == "finished":
            node.remote = _Remote(future)
            start_all(finish(node, None))
            return
        if status == "error":
            try:
                error = future.exception()
                traceback = future.traceback()
                if timed is not None and traceback is not None:
                    traceback = traceback.tb_next  # start in the task's code, not our wrapper
                if traceback is not None:
                    error = error.with_traceback(traceback)
            except BaseException as problem:
                error = problem
        else:  # cancelled or lost: the client closed, or the cluster dropped it
            # Dask keeps why on the future's state (FutureCancelledError:
            # "scheduler-connection-lost", "scheduler-restart", ...): keep it.
            why = getattr(getattr(future, "_state", None), "exception", None)
            error = CancelledError(f"{describe(node)}: its Dask future was {status}"
                                   + (f" ({why})" if why is not None else ""))
            if isinstance(why, BaseException):
                error.__cause__ = why
        node.remote = None
        start_all(fail(node, error))


class _TestPickler(cloudpickle.Pickler):  # type: ignore[misc, unused-ignore]
    # Pickles as Dask sends a task (cloudpickle is its last resort), to see
    # whether it can. Dask futures, and AsyncValues (sent as futures or as
    # results, checked once known), are stood in by reference.
    def persistent_id(self, obj: Any) -> Any:
        kind = type(obj)
        return id(obj) if kind is Future or kind in PROXY_TYPES else None


class _Nowhere:
    """A file that keeps nothing: the test pickle costs no copy of the data."""

    @staticmethod
    def write(data: Any) -> int:
        return len(data)


def _dump(obj: Any) -> None:
    # Protocol 5, buffers out of band and dropped: a big array is not copied.
    _TestPickler(_Nowhere(), protocol=5, buffer_callback=_drop).dump(obj)


def _drop(buffer: Any) -> None:
    return None


#: Functions that pickled for Dask once: later calls test their arguments only
#: (cloudpickle's look-up of a function costs ~50 us a call).
_PICKLED: weakref.WeakSet[Any] = weakref.WeakSet()


def _pickle_error(node: Node, args: Any, kwargs: Any) -> pickle.PicklingError | None:
    """The error naming what in the task does not pickle for Dask; None if it all does."""
    fn = node.fn
    try:
        if _pickled(fn):
            if kwargs or any(type(arg) not in ATOMS for arg in args):
                _dump((args, kwargs))
        else:
            _dump((fn, args, kwargs))  # the whole task once; its parts only if that fails
            with contextlib.suppress(TypeError):  # a builtin takes no weak reference
                _PICKLED.add(fn)
        return None
    except Exception:
        pass
    return pickle_error(
        node, node.fn, args, kwargs, _dump, "the Dask backend",
        "Dask workers receive each task's function and arguments by cloudpickle: pass "
        "arguments, and functions whose globals and closures, that pickle (not locks, "
        "open files, sockets or generators: make such things inside the task)")


def _pickled(fn: Any) -> bool:
    try:
        return fn in _PICKLED
    except TypeError:  # unhashable
        return False


# A lambda, so cloudpickle sends it by value: workers need not have asynckit.
_call = lambda fn, args, kwargs: fn(*args, **kwargs)  # noqa: E731


def _worker_side() -> Any:
    # Made in a function, so cloudpickle sends it by value too (see _call).
    def start_then_call(topic: str, key: str, fn: Any, args: Any, kwargs: Any) -> Any:
        """On the worker: tell the client this timed task starts, then run it."""
        from distributed import get_worker

        try:
            get_worker().log_event(topic, key)
        except ValueError:  # not in a worker (a custom executor): no deadline then
            pass
        return fn(*args, **kwargs)

    return start_then_call


_start_then_call = _worker_side()
