"""How a task's inputs are found, and how its arguments are made plain.

A task's inputs are the AsyncValues anywhere in its arguments: inside lists,
tuples (namedtuples too), dicts (keys and values), sets and frozensets, and
their subclasses, to any depth. :func:`find_inputs` finds them at the call;
once they have settled, :func:`resolve` and :func:`plain` hand the task
their plain results. Both look at ``type()`` first: asking a proxy anything
else would be a use, and block.

Three hazards shape the scan, each met by users of ``concurrent.futures``:

- Other threads may mutate a container while it is scanned (the shared
  results dict that tasks write into). Every read of a container is one C
  call (``set(map(type, obj))``, ``tuple(obj)``, ``tuple(obj.values())``),
  in which no other thread runs (see :func:`_stable`); a container is
  looked into only through such a snapshot, and the task still gets the
  user's own object when nothing in it needs replacing.
- Any depth: both walks keep their own stack, never Python's.
- Size: a container is first summed up by the set of its items' types, one
  C-level pass over it, with no copy. Only when that set holds an
  AsyncValue or a container do we snapshot it and loop over the items in
  Python, so a list of ten million numbers costs what ``set(map(type,
  items))`` costs. :func:`opaque` skips even that.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from operator import is_
from typing import Any, Generic, TypeVar

from .asynclist import PROXY_TYPES
from .node import DONE, Node

__all__ = ["ATOMS", "opaque", "find_inputs", "scan", "plain", "resolve", "ready_arguments"]

T = TypeVar("T")

# Types that can never contain an AsyncValue: the scan skips them at once.
ATOMS = frozenset({int, float, str, bytes, bool, type(None), complex, bytearray,
                    range, type, memoryview})

#: What the scan looks inside (and their subclasses); everything else is opaque.
CONTAINERS = (list, tuple, set, frozenset, dict)


class opaque(Generic[T]):  # lower case: used like a function, asynckit.opaque(obj)
    """Pass ``obj`` to a task as it is, without looking inside it for AsyncValues.

    ``pool.do(fn, asynckit.opaque(big_dict))``: ``fn`` receives ``big_dict``
    itself, and the call costs nothing for its size. AsyncValues inside it
    are not dependencies; they reach the task as proxies (using one there
    waits for it). Mark a whole argument, positional or keyword, as passed
    to ``do``, ``submit``, ``map`` or a ``@pool.task`` function; an ``opaque``
    found inside another container is a :class:`TypeError` at the call.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: T) -> None:
        self.obj: T = obj

    def __repr__(self) -> str:
        return f"asynckit.opaque({self.obj!r})"


def _nested_opaque() -> TypeError:
    return TypeError("asynckit.opaque() marks a whole argument of a call: pass "
                     "opaque(obj) as the argument itself, not inside a list, tuple, "
                     "dict or set")


def scan(args: tuple[Any, ...], kwargs: dict[str, Any] | None,
         ) -> tuple[list[Node] | None, tuple[Any, ...], dict[str, Any] | None]:
    """``find_inputs``, plus the arguments as the task gets them (opaque ones unwrapped)."""
    found = find_inputs(args, kwargs)
    if any(type(arg) is opaque for arg in args):
        args = tuple(arg.obj if type(arg) is opaque else arg for arg in args)
    if kwargs and any(type(arg) is opaque for arg in kwargs.values()):
        kwargs = {key: arg.obj if type(arg) is opaque else arg for key, arg in kwargs.items()}
    return found, args, kwargs


def find_inputs(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> list[Node] | None:
    """The nodes of every AsyncValue in ``args``/``kwargs``, or None if there are none.

    Looks inside lists, tuples (namedtuples too), dicts (keys and values), sets
    and frozensets, and their subclasses, to any depth, in C-level snapshots
    (see the module's docstring). Checks ``type()`` first: asking a proxy
    anything else would be a use, and block. An argument marked
    :func:`opaque` is skipped.
    """
    found: list[Node] | None = None
    todo: list[Any] | None = None
    for group in (args, kwargs.values()) if kwargs else (args,):
        for arg in group:
            kind = type(arg)
            if kind in PROXY_TYPES:
                if found is None:
                    found = [arg._self_task]
                else:
                    found.append(arg._self_task)
            elif kind not in ATOMS and kind is not opaque and issubclass(kind, CONTAINERS):
                if todo is None:
                    todo = [arg]
                else:
                    todo.append(arg)
    if todo is not None:
        found = _scan(todo, [] if found is None else found)
    return found or None


def _stable(read: Callable[[Any], list[Any]], obj: Any) -> list[Any]:
    """``read(obj)``, tried again should another thread change ``obj`` meanwhile.

    Each read is C calls alone over a built-in container (``tuple(obj)``,
    ``set(map(type, obj))``): they call no Python code, so under the GIL no
    other thread runs in the middle of one and nothing changes under it. A
    subclass's own ``__iter__`` (or a metaclass's ``__hash__``) may run
    Python code, and let another thread in: then the read is tried again
    (as on a free-threaded build, where no GIL holds the others off).
    """
    for _attempt in range(99):
        try:
            return read(obj)
        except RuntimeError:  # "changed size during iteration"
            continue
    try:
        return read(obj)
    except RuntimeError as error:  # the user's own error, or a container never still
        raise RuntimeError(f"asynckit could not read a {type(obj).__name__} argument "
                           f"({error}); pass asynckit.opaque(obj) to skip the scan") from error


def _kinds(obj: Any) -> list[set[type]]:
    """The types of the items of a container (a dict: of its keys, and of its values)."""
    if isinstance(obj, dict):
        return [set(map(type, obj)), set(map(type, obj.values()))]
    return [set(map(type, obj))]


def _items(obj: Any) -> list[tuple[Any, ...]]:
    """A snapshot of a container's items (a dict: its keys and its values, apart)."""
    if isinstance(obj, dict):
        return [tuple(obj), tuple(obj.values())]
    return [tuple(obj)]


def _pairs(obj: Any) -> list[tuple[Any, ...]]:
    """A snapshot of a container's items, a dict's as ``(k0, v0, k1, v1, ...)``."""
    if isinstance(obj, dict):
        return [tuple(chain.from_iterable(tuple(obj.items())))]
    return [tuple(obj)]


def _look_inside(kinds: set[type]) -> tuple[bool, bool]:
    """Does a snapshot with items of these types hold (AsyncValues, containers)?"""
    values = containers = False
    for kind in kinds:
        if kind in PROXY_TYPES:
            values = True
        elif kind not in ATOMS and issubclass(kind, CONTAINERS):
            containers = True
    return values, containers


def _scan(todo: list[Any], found: list[Node]) -> list[Node]:
    """Add the nodes of the AsyncValues inside the containers ``todo`` to ``found``."""
    seen: set[int] = set()
    keep = []  # what we looked into, so that no id() in `seen` is reused meanwhile
    while todo:
        obj = todo.pop()
        if id(obj) in seen:  # shared, or a container that contains itself
            continue
        seen.add(id(obj))
        keep.append(obj)
        kinds = set().union(*_stable(_kinds, obj))  # one C-level pass: the common case
        if kinds <= ATOMS:
            continue
        if opaque in kinds:
            raise _nested_opaque()
        values, containers = _look_inside(kinds)
        if not values and not containers:  # numbers and objects of the user's own types
            continue
        for items in _stable(_items, obj):
            if not containers:
                # (Each item's type is checked again: the container may have
                # changed since `kinds`, and attribute access would take any
                # object's own `_self_task`.)
                found.extend([item._self_task for item in items
                              if type(item) in PROXY_TYPES])
                continue
            for item in items:
                kind = type(item)
                if kind in PROXY_TYPES:
                    found.append(item._self_task)
                elif kind not in ATOMS and issubclass(kind, CONTAINERS):
                    todo.append(item)
    return found


# --------------------------------------------------------------------------
# Making arguments plain


def _result(value: Any) -> Any:
    node = value._self_task
    if node.state == DONE and node.remote is None:
        return value.__wrapped__  # settled here: the C field, no method call
    return value.get()


class _Frame:
    """One container being made plain: its snapshot, and its items made plain so far."""

    __slots__ = ("obj", "items", "done")

    def __init__(self, obj: Any, items: tuple[Any, ...]) -> None:
        self.obj = obj
        self.items = items
        self.done: list[Any] = []


def _frame(obj: Any) -> _Frame | None:
    """A frame for ``obj``, or None if nothing inside it needs replacing."""
    kinds = set().union(*_stable(_kinds, obj))  # one C-level pass: the common case
    if kinds <= ATOMS:
        return None
    values, containers = _look_inside(kinds)
    if not values and not containers:
        return None
    frame = _Frame(obj, _stable(_pairs, obj)[0])
    # Flat (AsyncValues among plain items): all at once. Checked on the
    # snapshot, since the container may have changed after `kinds`.
    if not containers and not _look_inside(set(map(type, frame.items)))[1]:
        frame.done = [_result(item) if type(item) in PROXY_TYPES else item
                      for item in frame.items]
    return frame


def plain(obj: Any) -> Any:
    """``obj`` with every AsyncValue replaced by its result (waiting if needed).

    Containers that hold AsyncValues are rebuilt with their own type; others
    are returned as they are (the same object), so a task that is handed a
    list it should mutate gets that very list. Walks any depth (its own
    stack), in C-level snapshots of each container. A container that
    contains itself is left as it is below the first level.
    """
    kind = type(obj)
    if kind in PROXY_TYPES:
        return _result(obj)
    if kind in ATOMS or not issubclass(kind, CONTAINERS):
        return obj
    root = _frame(obj)
    if root is None:
        return obj
    stack = [root]
    active = {id(obj)}  # containers on the stack: a cycle is left as it is
    made: dict[int, Any] = {}  # id -> plain version, for containers met twice
    while True:
        frame = stack[-1]
        items, done = frame.items, frame.done
        while len(done) < len(items):
            item = items[len(done)]
            kind = type(item)
            if kind in PROXY_TYPES:
                done.append(_result(item))
            elif kind in ATOMS or not issubclass(kind, CONTAINERS) or id(item) in active:
                done.append(item)
            elif id(item) in made:
                done.append(made[id(item)])
            else:
                child = _frame(item)
                if child is None:
                    made[id(item)] = item
                    done.append(item)
                else:
                    active.add(id(item))
                    stack.append(child)
                    break
        else:
            stack.pop()
            active.discard(id(frame.obj))
            rebuilt = _rebuild(frame)
            if not stack:
                return rebuilt
            made[id(frame.obj)] = rebuilt
            stack[-1].done.append(rebuilt)


def _rebuild(frame: _Frame) -> Any:
    """The frame's container with its items made plain: the same object if none changed."""
    obj, items = frame.obj, frame.done
    if all(map(is_, items, frame.items)):
        return obj
    kind = type(obj)
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        return kind(items)
    if isinstance(obj, dict):
        pairs = zip(items[::2], items[1::2], strict=True)
        if kind is dict:
            return dict(pairs)
        import copy  # here: not imported with asynckit (a rare case)

        rebuilt: Any = copy.copy(obj)  # OrderedDict, defaultdict, …: keep the type
        rebuilt.clear()
        rebuilt.update(pairs)
        return rebuilt
    if isinstance(obj, tuple):
        if hasattr(obj, "_fields"):  # a namedtuple
            return kind(*items)
        return kind(items)
    import copy

    rebuilt = copy.copy(obj)  # a list or set subclass: keep its attributes
    rebuilt.clear()
    if isinstance(obj, list):
        rebuilt.extend(items)
    else:
        rebuilt.update(items)
    return rebuilt


def resolve(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``plain`` over a ready task's arguments, with direct AsyncValues inlined.

    Every AsyncValue among them has settled with a result by now (a failed
    input would have failed the task), so its C field holds the value; if the
    value lives elsewhere (``remote``) the field is unset, and reading it goes
    through ``__wrapped_get__``, which fetches it.
    """
    resolved = []
    for arg in args:
        kind = type(arg)
        if kind in PROXY_TYPES:
            resolved.append(arg.__wrapped__)
        elif kind in ATOMS:
            resolved.append(arg)
        else:
            resolved.append(plain(arg))
    return tuple(resolved)


def ready_arguments(node: Node) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    """A ready task's arguments, every AsyncValue replaced by its result.

    Its inputs have all settled with results by now (a failed input would
    have failed the task), so nothing here waits, except for a value that
    lives elsewhere (Dask), which is fetched.
    """
    args, kwargs = node.args, node.kwargs
    if node.inputs:
        args = resolve(args)
        if kwargs:
            kwargs = {key: plain(arg) for key, arg in kwargs.items()}
    return args, kwargs
