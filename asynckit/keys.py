"""The keys of ``cache=True`` calls: a canonical, deterministic encoding.

A call's key is a SHA-256 over the function's identity (module, qualified
name, a hash of its code and defaults: :func:`function_identity`) and a
canonical encoding of its arguments (:func:`call_key`). The encoding is
built from the values' *types and contents* only, never from ``hash()`` or
``id()``, so it is the same in every interpreter run under any
``PYTHONHASHSEED``: sets and dict items are sorted by their own encodings.
An AsyncValue of a cached call contributes that call's key, not its value:
keys follow the graph, so a rerun finds a final result without loading or
running anything upstream.
"""

from __future__ import annotations

import inspect
from types import CodeType, FunctionType, ModuleType
from typing import TYPE_CHECKING, Any

from .asynclist import AsyncList, LazyList, MapResult
from .node import Node
from .value import AsyncValue

if TYPE_CHECKING:  # pragma: no cover
    from .protocols import Spec

__all__ = ["function_identity", "call_key"]

#: Bumped when the encoding changes: every old key then misses.
_VERSION = b"asynckit-key-1;"
_KEYABLE = ("None, bool, int, float, complex, str, bytes, tuple, list, dict, set, "
            "frozenset, a namedtuple, a class, a function, or an AsyncValue of a "
            "cache=True task")


class _Unkeyable(Exception):
    """Why a value has no stable encoding (turned into a TypeError at the call)."""


def _length(tag: bytes, n: int) -> bytes:
    return tag + str(n).encode() + b":"


def _encoded(obj: Any, path: set[int]) -> bytes:
    out: list[bytes] = []
    _encode(obj, out, path)
    return b"".join(out)


def _encode(obj: Any, out: list[bytes], path: set[int]) -> None:
    """Append ``obj``'s canonical encoding to ``out``: typed and self-delimiting,
    so that concatenations of encodings never collide."""
    kind = type(obj)
    if obj is None:
        out.append(b"N")
    elif kind is bool:
        out.append(b"T" if obj else b"F")
    elif kind is int:
        out.append(b"i" + str(obj).encode() + b";")
    elif kind is float:
        out.append(b"f" + obj.hex().encode() + b";")
    elif kind is complex:
        out.append(b"c" + obj.real.hex().encode() + b"," + obj.imag.hex().encode() + b";")
    elif kind is str:
        data = obj.encode("utf-8", "surrogatepass")
        out.append(_length(b"s", len(data)))
        out.append(data)
    elif kind is bytes:
        out.append(_length(b"b", len(obj)))
        out.append(obj)
    elif obj is Ellipsis:
        out.append(b"E")
    elif kind is AsyncValue:
        key = _key_of(obj._self_task)
        if key is None:
            raise _Unkeyable("it is an AsyncValue of a task that is not cached "
                             "(only @pool.task(cache=True) calls have keys)")
        out.append(b"k" + key.encode() + b";")
    elif kind is _Keyed:
        out.append(b"k" + obj.key.encode() + b";")
    elif kind is AsyncList or kind is MapResult:
        _encode_sequence(b"l", _items_of(obj), out, path)
    elif kind is list:
        _encode_sequence(b"l", obj, out, path)
    elif kind is tuple:
        _encode_sequence(b"t", obj, out, path)
    elif isinstance(obj, tuple) and hasattr(kind, "_fields"):  # a namedtuple
        out.append(b"n")
        _encode(f"{kind.__module__}.{kind.__qualname__}", out, path)
        _encode_sequence(b"t", obj, out, path)
    elif kind is set or kind is frozenset or kind is dict:
        if id(obj) in path:
            raise _Unkeyable("it contains itself")
        path.add(id(obj))
        if kind is dict:
            parts = sorted(_encoded(k, path) + _encoded(v, path) for k, v in obj.items())
        else:
            parts = sorted(_encoded(item, path) for item in obj)
        path.discard(id(obj))
        out.append(_length(b"d" if kind is dict else b"S" if kind is set else b"z", len(parts)))
        out.extend(parts)
    elif kind is type:
        out.append(b"C")
        _encode(f"{obj.__module__}.{obj.__qualname__}", out, path)
    elif kind is FunctionType:
        out.append(b"u" + function_identity(obj)[1] + b";")
    elif kind is slice:
        out.append(b"x")
        _encode_sequence(b"t", (obj.start, obj.stop, obj.step), out, path)
    else:
        raise _Unkeyable(f"a {kind.__module__}.{kind.__qualname__} has no stable encoding")


def _encode_sequence(tag: bytes, items: Any, out: list[bytes], path: set[int]) -> None:
    if id(items) in path:
        raise _Unkeyable("it contains itself")
    path.add(id(items))
    out.append(_length(tag, len(items)))
    for item in items:
        _encode(item, out, path)
    path.discard(id(items))


def _key_of(node: Node) -> str | None:
    spec: Spec | None = node.spec
    return None if spec is None else spec.key


def _items_of(value: AsyncList[Any]) -> Any:
    """An AsyncList's items, for its key (it keys as the list of its items)."""
    node = value._self_task
    if node.args is not None:
        return node.args  # not settled yet: its items are its arguments
    if type(node.remote) is LazyList:
        return node.remote.items
    if len(node.inputs) == len(value):  # every item was an AsyncValue: their records
        items = []
        for inner in node.inputs:
            key = _key_of(inner)
            if key is None:
                raise _Unkeyable("it is an AsyncList of a task that is not cached")
            items.append(_Keyed(key))
        return items
    raise _Unkeyable("it is a settled AsyncList of plain items and values: pass a list")


class _Keyed:
    """Stands for a cached item of a settled AsyncList, by its key: it encodes
    exactly as the item's AsyncValue does."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


def _encode_code(code: CodeType, out: list[bytes], path: set[int]) -> None:
    out.append(_length(b"B", len(code.co_code)))
    out.append(code.co_code)
    _encode(code.co_names, out, path)
    out.append(_length(b"K", len(code.co_consts)))
    for const in code.co_consts:
        if type(const) is CodeType:  # nested functions, lambdas, comprehensions
            _encode_code(const, out, path)
        else:
            _encode(const, out, path)


def function_identity(fn: Any) -> tuple[str, bytes]:
    """``(module.qualname, digest)`` of a function: its name, and a hash of its
    code (bytecode, constants, names; nested code objects too) and defaults.
    Editing the function's body or defaults changes the digest."""
    code = getattr(fn, "__code__", None)
    if type(code) is not CodeType:
        raise TypeError(f"cache=True needs a Python function (with code to key), "
                        f"not {type(fn).__name__} {fn!r:.60}")
    name = f"{getattr(fn, '__module__', None)}.{getattr(fn, '__qualname__', fn.__name__)}"
    out = [_VERSION]
    path: set[int] = set()
    _encode(name, out, path)
    _encode_code(code, out, path)
    for what, defaults in (("default", getattr(fn, "__defaults__", None)),
                           ("keyword default", getattr(fn, "__kwdefaults__", None))):
        try:
            _encode(defaults, out, path)
        except _Unkeyable as why:
            raise TypeError(f"cache=True: a {what} of {name} cannot be keyed for the "
                            f"store: {why} (keyable: {_KEYABLE})") from None
    from hashlib import sha256  # here: only cache=True needs it (import asynckit stays cheap)

    return name, sha256(b"".join(out)).digest()


def call_key(spec: Spec, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None,
             label: str) -> str:
    """The key of one call; ``TypeError`` naming the argument that cannot be keyed."""
    out = [spec.identity]
    path: set[int] = set()
    instance = getattr(fn, "__self__", None)  # a bound method: its instance is an input
    if instance is not None and type(instance) is not ModuleType:
        try:
            _encode(instance, out, path)
        except (_Unkeyable, RecursionError) as why:
            raise TypeError(f"{label}() is a method of {type(instance).__name__} "
                            f"{instance!r:.40}, which cannot be keyed for the store: "
                            f"{_why(why)}; cache a function, or a staticmethod") from None
    out.append(_length(b"A", len(args)))
    for index, arg in enumerate(args):
        try:
            _encode(arg, out, path)
        except (_Unkeyable, RecursionError) as why:
            raise TypeError(f"{label}(): {_argument_name(fn, index)} cannot be keyed for "
                            f"the store: {_why(why)} (keyable: {_KEYABLE}); or drop "
                            f"cache=True") from None
    if kwargs:
        out.append(_length(b"W", len(kwargs)))
        for name in sorted(kwargs):
            _encode(name, out, path)
            try:
                _encode(kwargs[name], out, path)
            except (_Unkeyable, RecursionError) as why:
                raise TypeError(f"{label}(): argument {name!r} cannot be keyed for the "
                                f"store: {_why(why)} (keyable: {_KEYABLE}); or drop "
                                f"cache=True") from None
    from hashlib import sha256

    return sha256(b"".join(out)).hexdigest()


def _why(error: BaseException) -> str:
    return "it is nested too deep" if isinstance(error, RecursionError) else str(error)


def _argument_name(fn: Any, index: int) -> str:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    if index < len(parameters) and parameters[index].kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        return f"argument {parameters[index].name!r} (position {index})"
    return f"positional argument {index}"
