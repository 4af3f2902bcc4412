"""How a task's inputs are found, and how its arguments are made plain.

A task's inputs are the AsyncValues anywhere in its arguments: inside lists,
tuples (namedtuples too), dicts (keys and values), sets and frozensets, and
their subclasses, to any depth. :func:`find_inputs` finds them at the call;
once they have settled, :func:`resolve` and :func:`plain` hand the task
their plain results. Both look at ``type()`` first: asking a proxy anything
else would be a use, and block.
"""

from __future__ import annotations

import copy
from typing import Any

from .asynclist import PROXY_TYPES, AsyncList
from .node import DONE, Node
from .value import AsyncValue, _task_of, _wrapped_of

__all__ = ["ATOMS", "find_inputs", "plain", "resolve"]

# Types that can never contain an AsyncValue: the scan skips them at once.
ATOMS = frozenset({int, float, str, bytes, bool, type(None), complex, bytearray,
                    range, type, memoryview})


def find_inputs(args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> list[Node] | None:
    """The nodes of every AsyncValue in ``args``/``kwargs``, or None if there are none.

    Looks inside lists, tuples (namedtuples too), dicts (keys and values), sets
    and frozensets, and their subclasses, to any depth. Checks ``type()``
    first: asking a proxy anything else would be a use, and block.
    """
    found: list[Node] | None = None
    for arg in args:
        kind = type(arg)
        if kind in PROXY_TYPES:
            if found is None:
                found = [_task_of(arg)]
            else:
                found.append(_task_of(arg))
        elif kind not in ATOMS:
            found = _scan(arg, found, set())
    if kwargs:
        for arg in kwargs.values():
            kind = type(arg)
            if kind in PROXY_TYPES:
                if found is None:
                    found = [_task_of(arg)]
                else:
                    found.append(_task_of(arg))
            elif kind not in ATOMS:
                found = _scan(arg, found, set())
    return found


def _scan(obj: Any, found: list[Node] | None, seen: set[int]) -> list[Node] | None:
    kind = type(obj)
    if kind in PROXY_TYPES:
        if found is None:
            return [_task_of(obj)]
        found.append(_task_of(obj))
        return found
    if kind in ATOMS:
        return found
    if isinstance(obj, (list, tuple, set, frozenset)):
        if id(obj) in seen:  # a container that contains itself
            return found
        seen.add(id(obj))
        for item in obj:
            found = _scan(item, found, seen)
    elif isinstance(obj, dict):
        if id(obj) in seen:
            return found
        seen.add(id(obj))
        for key, item in obj.items():
            found = _scan(key, found, seen)
            found = _scan(item, found, seen)
    return found


def plain(obj: Any) -> Any:
    """``obj`` with every AsyncValue replaced by its result (waiting if needed).

    Containers that hold AsyncValues are rebuilt with their own type; others
    are returned as they are (the same object), so a task that is handed a
    list it should mutate gets that very list.
    """
    kind = type(obj)
    if kind in PROXY_TYPES:
        node = _task_of(obj)
        if node.state == DONE and node.remote is None:
            return _wrapped_of(obj)  # settled here: the C field, no method call
        return obj.get()
    if kind in ATOMS:
        return obj
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [plain(item) for item in obj]
        if all(new is old for new, old in zip(items, obj, strict=True)):
            return obj
        if kind is list or kind is tuple or kind is set or kind is frozenset:
            return kind(items)
        if isinstance(obj, tuple):
            if hasattr(obj, "_fields"):  # a namedtuple
                return kind(*items)
            return kind(items)
        rebuilt: Any = copy.copy(obj)  # a list or set subclass: keep its attributes
        rebuilt.clear()
        if isinstance(obj, list):
            rebuilt.extend(items)
        else:
            rebuilt.update(items)
        return rebuilt
    if isinstance(obj, dict):
        pairs = [(plain(key), plain(item)) for key, item in obj.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, obj.items(), strict=True)):
            return obj
        if kind is dict:
            return dict(pairs)
        rebuilt = copy.copy(obj)  # OrderedDict, defaultdict, …: keep the type
        rebuilt.clear()
        rebuilt.update(pairs)
        return rebuilt
    return obj


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
        if kind is AsyncValue or kind is AsyncList:
            resolved.append(_wrapped_of(arg))
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
