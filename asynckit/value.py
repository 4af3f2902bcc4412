"""AsyncValue: a transparent proxy for one task's result.

The proxy's only instance state is ``_self_task``, a reference to the task's
record (``node.Node``); everything else about the task lives there. The
settle publishes a result into the proxy's C field (``proxy.__wrapped__ =``) before it
marks the node DONE, so from then on every use runs in wrapt's C code with no
Python in between. Until then each use lands in ``__wrapped_get__``, which
waits (``waiting.wait_for``) and then returns the result or raises the error.

This module knows nothing of pools or backends: ``chain`` reaches the pool
through the record's typed ``PoolHandle``.
"""

from __future__ import annotations

import operator
import os
import reprlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import wrapt

from . import lifecycle
from .node import DONE, FAILED, GATHER, STATE_NAMES, Node, name_of
from .report import observe
from .waiting import add_callback, wait_for

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Coroutine, Generator

    from .protocols import PoolHandle

__all__ = ["AsyncValue", "new_value", "outcome", "describe"]

T = TypeVar("T")
R = TypeVar("R")
_MISSING: Any = object()


def outcome(node: Node, proxy: AsyncValue[Any]) -> Any:
    """The plain result of a settled node, or raise its error."""
    state = node.state
    if state == DONE:
        remote = node.remote
        if remote is not None:
            value = remote.result()
            proxy.__wrapped__ = value
            return value
        return proxy.__wrapped__
    observe(node)
    error = node.error
    assert error is not None
    # Re-raise with the traceback captured at failure, so using a failed
    # value a hundred times does not grow its traceback a hundred times.
    reporter = node.reporter
    raise error.with_traceback(None if reporter is None else reporter.tb)


# --------------------------------------------------------------------------
# Describing


_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4


def describe(node: Node) -> str:
    """``name(args…)`` for reprs, errors and pictures; never blocks."""
    name = node.name or name_of(node.fn)
    args = node.args
    if args is None or node.fn is GATHER:
        return name
    try:
        parts = [_short(a) for a in args]
        if node.kwargs:
            parts += [f"{k}={_short(v)}" for k, v in node.kwargs.items()]
    except Exception:
        return name
    text = ", ".join(parts)
    if len(text) > 60:
        text = text[:59] + "…"
    return f"{name}({text})"


def _short(obj: Any) -> str:
    if issubclass(type(obj), AsyncValue):  # type(), never the proxy itself: no use
        # Its name only, not its arguments: describing a value's inputs
        # recursively costs O(n) per step of a long chain (O(n^2) to cancel
        # one), and reads as a tangle of nested brackets.
        node = obj._self_task
        return f"<{node.name or name_of(node.fn)}>"
    return _repr.repr(obj)


# --------------------------------------------------------------------------
# The proxy


if TYPE_CHECKING:  # pragma: no cover

    class _ProxyBase(Generic[T]):
        """What type checkers see of the proxy: the result's attributes and
        operators, typed ``Any`` (a checker cannot see an AsyncValue[T] as a T;
        ``get()`` and ``asynckit.unwrap`` give the typed result)."""

        __wrapped__: Any

        def __getattr__(self, name: str) -> Any: ...
        def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
        def __getitem__(self, key: Any) -> Any: ...
        def __setitem__(self, key: Any, value: Any) -> None: ...
        def __delitem__(self, key: Any) -> None: ...
        def __contains__(self, item: Any) -> bool: ...
        def __len__(self) -> int: ...
        def __bool__(self) -> bool: ...
        def __int__(self) -> int: ...
        def __float__(self) -> float: ...
        def __complex__(self) -> complex: ...
        def __index__(self) -> int: ...
        def __bytes__(self) -> bytes: ...
        def __round__(self, ndigits: Any = None) -> Any: ...
        def __enter__(self) -> Any: ...
        def __exit__(self, *exc_info: Any) -> Any: ...
        def __add__(self, other: Any) -> Any: ...
        def __radd__(self, other: Any) -> Any: ...
        def __iadd__(self, other: Any) -> Any: ...
        def __sub__(self, other: Any) -> Any: ...
        def __rsub__(self, other: Any) -> Any: ...
        def __isub__(self, other: Any) -> Any: ...
        def __mul__(self, other: Any) -> Any: ...
        def __rmul__(self, other: Any) -> Any: ...
        def __imul__(self, other: Any) -> Any: ...
        def __matmul__(self, other: Any) -> Any: ...
        def __rmatmul__(self, other: Any) -> Any: ...
        def __imatmul__(self, other: Any) -> Any: ...
        def __truediv__(self, other: Any) -> Any: ...
        def __rtruediv__(self, other: Any) -> Any: ...
        def __itruediv__(self, other: Any) -> Any: ...
        def __floordiv__(self, other: Any) -> Any: ...
        def __rfloordiv__(self, other: Any) -> Any: ...
        def __ifloordiv__(self, other: Any) -> Any: ...
        def __mod__(self, other: Any) -> Any: ...
        def __rmod__(self, other: Any) -> Any: ...
        def __imod__(self, other: Any) -> Any: ...
        def __divmod__(self, other: Any) -> Any: ...
        def __rdivmod__(self, other: Any) -> Any: ...
        def __pow__(self, other: Any) -> Any: ...
        def __rpow__(self, other: Any) -> Any: ...
        def __ipow__(self, other: Any) -> Any: ...
        def __lshift__(self, other: Any) -> Any: ...
        def __rlshift__(self, other: Any) -> Any: ...
        def __ilshift__(self, other: Any) -> Any: ...
        def __rshift__(self, other: Any) -> Any: ...
        def __rrshift__(self, other: Any) -> Any: ...
        def __irshift__(self, other: Any) -> Any: ...
        def __and__(self, other: Any) -> Any: ...
        def __rand__(self, other: Any) -> Any: ...
        def __iand__(self, other: Any) -> Any: ...
        def __xor__(self, other: Any) -> Any: ...
        def __rxor__(self, other: Any) -> Any: ...
        def __ixor__(self, other: Any) -> Any: ...
        def __or__(self, other: Any) -> Any: ...
        def __ror__(self, other: Any) -> Any: ...
        def __ior__(self, other: Any) -> Any: ...
        def __lt__(self, other: Any) -> Any: ...
        def __le__(self, other: Any) -> Any: ...
        def __gt__(self, other: Any) -> Any: ...
        def __ge__(self, other: Any) -> Any: ...
        def __neg__(self) -> Any: ...
        def __pos__(self) -> Any: ...
        def __abs__(self) -> Any: ...
        def __invert__(self) -> Any: ...

else:
    # wrapt's C type has __class_getitem__, so ``_ProxyBase[T]`` below is a
    # generic alias whose MRO entry is the C type itself: no Python class is
    # added to the MRO (each one would slow every arithmetic operator: PROXY.md).
    _ProxyBase = wrapt.BaseObjectProxy


class _ForwardedModule(str):
    """A proxy class's ``__module__``: the class's own module name when read
    on the class (``type`` reads it raw from the class's dict, so it must be
    a str), the result's ``__module__`` when read on a value."""

    def __get__(self, value: Any, cls: Any = None) -> Any:
        return self if value is None else value.__wrapped__.__module__

    def __reduce__(self) -> Any:  # pickling the class: a plain str
        return str, (str(self),)


class _ForwardedDoc:
    """A proxy class's ``__doc__``: its docstring when read on the class,
    the result's ``__doc__`` when read on a value."""

    __slots__ = ("doc",)

    def __init__(self, doc: str | None) -> None:
        self.doc = doc

    def __get__(self, value: Any, cls: Any = None) -> Any:
        return self.doc if value is None else value.__wrapped__.__doc__


def _forward_module_and_doc(cls: type) -> None:
    # type.__setattr__: these two are the type's own descriptors.
    type.__setattr__(cls, "__module__", _ForwardedModule(cls.__module__))
    type.__setattr__(cls, "__doc__", _ForwardedDoc(cls.__doc__))


class AsyncValue(_ProxyBase[T]):
    """The result of one task: a transparent proxy that *is* the result once ready.

    Its own methods are exactly ``get``, ``wait``, ``is_set``, ``is_error`` and
    ``chain``. Everything else (attributes, operators, ``str``, ``len``,
    iteration, ``isinstance`` against the result's type, pickling, copying)
    blocks until the task has settled, then acts on the result; a failed task
    re-raises its exception there, a cancelled one raises
    :class:`asynckit.CancelledError`. ``repr`` never blocks, and neither does
    ``isinstance(v, AsyncValue)``.

    Once settled, every use runs in wrapt's C code with no Python in between.

    AsyncValues are made by ``pool.do``, calls of ``@pool.task`` functions,
    ``chain`` and :class:`AsyncList`; they cannot be constructed directly.

    Typing: ``AsyncValue[T]`` is generic in its result. A type checker cannot
    see an ``AsyncValue[int]`` as an ``int``, so ``@pool.task`` types the
    decorated function as a callable returning ``AsyncValue[R]``: its arguments may
    be plain values or AsyncValues (they are not checked), and its result is
    typed. ``get()`` returns ``T``; the result's attributes and operators
    (``v + 1``, ``v[0]``, ``len(v)``) are typed ``Any``; to hand the value to
    code that declares ``T``, pass ``v.get()`` (or ``asynckit.unwrap(v)``).
    """

    __slots__ = ("_self_task",)

    # wrapt's C slots call __wrapped_get__ while the field is unset.
    __wrapped_factory__ = True

    # Attribute lookup: the generic one, then wrapt's __getattr__, which
    # forwards to the result. wrapt's own __getattribute__ does the same
    # through a Python-level slot (a bound wrapper made and called per
    # lookup): the generic one costs half as much on every `value.get`,
    # every other attribute and every settle (wrapt looks up
    # __wrapped_setattr_fixups__ on each assignment to __wrapped__).
    # The two names wrapt intercepts, __module__ and __doc__, forward
    # through _ForwardedModule and _ForwardedDoc. (Hidden from type
    # checkers: to them a value's attributes are the result's, typed Any.)
    if not TYPE_CHECKING:
        __getattribute__ = object.__getattribute__

    if TYPE_CHECKING:  # pragma: no cover
        _self_task: Node

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _forward_module_and_doc(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "AsyncValue objects come from pool.do(), calls of @pool.task "
            "functions, chain() and AsyncList(); they cannot be created directly"
        )

    def __wrapped_get__(self) -> Any:
        node = self._self_task
        if node.state < DONE:
            wait_for(node)
        return outcome(node, self)

    # wrapt looks this up and calls it on every assignment to __wrapped__.
    # Defined so the lookup does not fall through to the result and fail
    # there (an exception raised and cleared per settle); a C no-op (tuple()
    # is the empty tuple), so the call costs no Python frame.
    __wrapped_setattr_fixups__: Any = staticmethod(tuple)

    def __object_proxy__(self, value: Any) -> Any:
        # `x = v; x += 1` on an immutable result gives the plain new value.
        return value

    # -- the five methods -------------------------------------------------

    def get(self, timeout: bool | float | None = True, default: Any = _MISSING) -> T:
        """Return the plain result, or re-raise the task's exception.

        ``timeout``: ``True`` or ``None`` waits as long as it takes; a number
        waits that many seconds, then raises the builtin :class:`TimeoutError`;
        ``False`` or ``0`` does not wait. Anything else is a mistake (perhaps
        meant for the result's own ``get``) and raises :class:`TypeError`.
        """
        node = self._self_task
        if timeout is True and node.state == DONE and node.remote is None \
                and default is _MISSING:
            return self.__wrapped__  # type: ignore[no-any-return]
        if default is not _MISSING or not _is_timeout(timeout):
            raise TypeError(
                f"AsyncValue.get() takes a timeout (True, None, False or seconds), "
                f"not {_repr.repr(timeout)}{', ...' if default is not _MISSING else ''}. "
                f"To call the result's own get(), use asynckit.unwrap(value).get(...)"
            )
        if node.state < DONE:
            seconds = None if timeout is True or timeout is None else (
                0.0 if timeout is False else float(timeout))
            if not wait_for(node, seconds):
                raise TimeoutError(f"{describe(node)} did not settle within {seconds} s")
        return outcome(node, self)  # type: ignore[no-any-return]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until settled (succeeded, failed or cancelled); True if it has.

        ``threading.Event.wait`` semantics: with a timeout, False means it is
        still pending. Does not raise the task's error.
        """
        node = self._self_task
        if node.state >= DONE:
            return True
        if timeout is not None and (isinstance(timeout, bool) or not _is_timeout(timeout)):
            raise TypeError(f"wait() takes a timeout in seconds or None, not {timeout!r}")
        return wait_for(node, timeout)

    def is_set(self) -> bool:
        """True once settled: succeeded, failed or cancelled. Never blocks."""
        return self._self_task.state >= DONE

    def is_error(self) -> bool:
        """True if settled with an exception (cancelled counts). Never blocks.

        Asking counts as observing the error: it will not be logged as unseen.
        """
        node = self._self_task
        if node.state >= FAILED:
            observe(node)
            return True
        return False

    @overload
    def chain(self, fn: Callable[..., AsyncValue[R]], /, *args: Any,
              **kwargs: Any) -> AsyncValue[R]: ...  # results flatten

    @overload
    def chain(self, fn: Callable[..., Coroutine[Any, Any, R]], /, *args: Any,
              **kwargs: Any) -> AsyncValue[R]: ...

    @overload
    def chain(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> AsyncValue[R]: ...

    def chain(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> AsyncValue[Any]:
        """Run ``fn(*args, **kwargs)`` on the same pool once this value has settled.

        It runs whatever the outcome (a cleanup step) and does not receive this
        value; AsyncValues among its own arguments are ordinary dependencies.
        """
        node = self._self_task
        return _pool_of(node)._chain(node, fn, args, kwargs)

    # -- what wrapt's C type does not give us -----------------------------

    def __repr__(self) -> str:
        node = self._self_task
        state = node.state
        if state == DONE:
            # Reading __wrapped__ would fetch a remote result: ask the remote
            # whether it is here yet (``here``; absent means not).
            if node.remote is not None and not node.remote.here:
                return f"<{type(self).__name__} {describe(node)} done>"
            return repr(self.__wrapped__)
        if state >= FAILED:
            try:
                error = repr(node.error)
            except Exception:
                error = type(node.error).__name__
            return f"<{type(self).__name__} {describe(node)} {STATE_NAMES[state]}: {error}>"
        return f"<{type(self).__name__} {describe(node)} {STATE_NAMES[state]}>"

    def __iter__(self) -> Iterator[Any]:
        return iter(self.__wrapped__)

    def __fspath__(self) -> Any:
        return os.fspath(self.__wrapped__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # wrapt's C type has no call slot. Defining it makes callable(v) True
        # for every AsyncValue (PROXY.md); calling a settled non-callable
        # result still raises the result's own TypeError.
        return self.__wrapped__(*args, **kwargs)

    def __await__(self) -> Generator[Any, None, T]:
        node = self._self_task
        if node.state < DONE:
            yield from _settled_future(node).__await__()
        return outcome(node, self)  # type: ignore[no-any-return]

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Pickles as the plain result: itemgetter(0)((value,)) is value.
        return operator.itemgetter(0), ((self.__wrapped__,),)

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def __copy__(self) -> Any:
        import copy  # here: not imported with asynckit (a rare use)

        return copy.copy(self.__wrapped__)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        import copy

        return copy.deepcopy(self.__wrapped__, memo)


def _is_timeout(timeout: Any) -> bool:
    return timeout is None or type(timeout) in (bool, int, float)


def _settled_future(node: Node) -> Any:
    """An asyncio future of the running loop, done once ``node`` settles.

    The settle may happen on any thread. On the loop's own thread (a task of
    a pool's event loop awaiting another one) the future is resolved at once;
    from elsewhere, ``call_soon_threadsafe`` wakes the loop. A loop closed
    meanwhile (its ``asyncio.run`` has ended) has nobody left to wake.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def wake(_: Node) -> None:
        if asyncio._get_running_loop() is loop:
            _resolve_future(future)
            return
        try:
            loop.call_soon_threadsafe(_resolve_future, future)
        except RuntimeError:  # the loop is closed
            pass

    add_callback(node, wake)
    return future


def _resolve_future(future: Any) -> None:
    if not future.done():
        future.set_result(None)


def new_value(node: Node) -> AsyncValue[Any]:
    """The proxy of a new node (the hot path: no Python __init__ runs)."""
    # No __init__: wrapt's tp_new leaves the field unset, and with
    # __wrapped_factory__ on the class every slot calls __wrapped_get__.
    proxy = _new(AsyncValue)
    proxy._self_task = node
    node.proxy = proxy
    return proxy


_new = AsyncValue.__new__
_forward_module_and_doc(AsyncValue)


def _pool_of(node: Node) -> PoolHandle:
    # An AsyncList has no pool of its own: use its items'. Its ``inputs``
    # (not ``args``, dropped once it has settled) are the items' nodes.
    todo = [node]
    while todo:
        node = todo.pop()
        if node.pool is not None:
            return node.pool
        todo.extend(reversed(node.inputs))
    return lifecycle.default_pool()  # type: ignore[return-value]
