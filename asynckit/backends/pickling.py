"""Naming what in a task does not pickle, for the backends that send tasks away.

The processes and Dask backends test-pickle a task before it leaves, so that
a misuse raises at the call. Only once that test has failed is each part
(the function, then each argument) pickled on its own, to name the culprit.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

from ..node import Node
from ..value import describe

__all__ = ["pickle_error"]


def pickle_error(node: Node, fn: Any, args: Any, kwargs: Any, dump: Callable[[Any], object],
                 where: str, advice: str) -> pickle.PicklingError | None:
    """A PicklingError naming what in ``node`` does not pickle, or None if it all does.

    ``fn``, ``args`` and ``kwargs`` are the parts as they will travel; ``dump``
    pickles one of them (raising if it cannot); ``where`` names the backend
    and ``advice`` says how such tasks travel and what to do.
    """
    parts: list[tuple[str, Any]] = [("the function", fn)]
    parts += [(f"argument {i + 1}", arg) for i, arg in enumerate(args or ())]
    parts += [(f"keyword argument {key!r}", arg) for key, arg in (kwargs or {}).items()]
    for what, obj in parts:
        try:
            dump(obj)
        except Exception as error:
            label = what if what == "the function" else f"{what} ({type(obj).__name__})"
            problem = pickle.PicklingError(
                f"cannot pickle {label} of task {describe(node)} for {where}: {error}. "
                f"{advice}")
            problem.__cause__ = error
            return problem
    return None
