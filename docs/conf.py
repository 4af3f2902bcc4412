"""Sphinx configuration for asynckit's documentation.

Built with ``sphinx -W -n`` (warnings are errors, every reference must
resolve) by ``make docs`` and by tests/test_docs.py.
"""

from __future__ import annotations

import inspect
import sys
import typing
from pathlib import Path
from typing import Any

from sphinx.ext import intersphinx

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

import asynckit  # noqa: E402

project = "asynckit"
author = "the asynckit authors"
copyright = "2026, the asynckit authors"  # noqa: A001 - Sphinx's name
release = version = asynckit.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
autodoc_member_order = "bysource"
# Types live in the typing guide and the docstrings: a rendered signature is
# what a user writes (and "none" makes autodoc show an overloaded function by
# its implementation, not by its typing overloads).
autodoc_typehints = "none"
autodoc_default_options = {"members": True}
exclude_patterns = ["_build", "_inventories"]

# The inventories ship in docs/_inventories (from the Debian packages of the
# Python and Dask docs), so the build needs no network; they map names to the
# live sites. A newer inventory can replace a file at any time.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", str(DOCS / "_inventories" / "python.inv")),
    "dask": ("https://docs.dask.org/en/stable", str(DOCS / "_inventories" / "dask.inv")),
    "distributed": ("https://distributed.dask.org/en/stable",
                    str(DOCS / "_inventories" / "distributed.inv")),
}
intersphinx_timeout = 5

html_theme = "alabaster"
html_title = f"asynckit {release}"
html_static_path = ["_static"]
html_css_files = ["asynckit.css"]
html_theme_options = {
    "description": "Run your existing functions in parallel; their results are values.",
    "page_width": "1120px",
    "sidebar_width": "230px",
    "github_user": "asynckit",
    "github_repo": "asynckit",
    "github_button": False,
    "extra_nav_links": {
        "Source on GitHub": "https://github.com/asynckit/asynckit",
        "asynckit on PyPI": "https://pypi.org/project/asynckit/",
    },
}

# Rendered signatures show what a user passes: no parameter starting with an
# underscore (AsyncList's _deadline is the library's own), no parameter with a
# sentinel default ("<object object at 0x...>"), no types (so no private
# return type such as -> _TaskDecorator, which names nothing to look up).
class _Shown:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


# Classes a user never calls: a signature would invite AsyncValue(...).
_MADE_BY_THE_LIBRARY = {"asynckit.AsyncValue", "asynckit.asynclist.MapResult",
                        "asynckit.asynclist.MapIterator"}


def _public_signature(app: Any, what: str, name: str, obj: Any, options: Any,
                      signature: str | None, return_annotation: str | None
                      ) -> tuple[str | None, str | None] | None:
    if what not in ("function", "method", "class") or signature is None:
        return None
    if name in _MADE_BY_THE_LIBRARY:
        return "", None
    try:
        # wrapt's proxy type has no signature of its own: a class is read
        # from its __init__.
        sig = inspect.signature(obj.__init__ if what == "class" else obj)
    except (TypeError, ValueError):
        return None
    params = []
    for param in sig.parameters.values():
        if param.name.startswith("_") or param.name in ("self", "cls"):
            continue
        default = param.default
        if type(default) is object:
            # A sentinel: get(timeout, default=_MISSING) takes `default` only
            # to refuse the result's own get(key, default) with a clear error.
            continue
        if default is param.empty:
            pass
        elif isinstance(default, type):  # retry_on=Exception, not <class 'Exception'>
            default = _Shown(default.__name__)
        elif isinstance(default, tuple) and default and all(isinstance(d, type) for d in default):
            names = [d.__name__ for d in default]
            default = _Shown(f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})")
        params.append(param.replace(annotation=param.empty, default=default))
    shown = sig.replace(parameters=params, return_annotation=sig.empty)
    return str(shown), None


# The standard library defines Executor, Future and CancelledError in the
# private concurrent.futures._base; its docs (and intersphinx) know them by
# their public names.
_PUBLIC_NAMES = {"concurrent.futures._base.": "concurrent.futures."}


def _public_base_names(app: Any, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    # AsyncValue is a wrapt proxy underneath: a detail, and wrapt's private
    # _wrappers module has no docs to link to.
    bases[:] = [b for b in bases if not getattr(b, "__module__", "").startswith(("_", "wrapt"))
                and b is not typing.Generic]


def _resolve_public_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    target = node.get("reftarget", "")
    for private, public in _PUBLIC_NAMES.items():
        if target.startswith(private):
            node["reftarget"] = public + target[len(private):]
            return intersphinx.missing_reference(app, env, node, contnode)
    return None


# TypeVars (T, R) in the type descriptions are not objects to link to.
nitpick_ignore_regex = [("py:(class|obj)", r"(asynckit\.\w+\.)?[TR]")]


def setup(app: Any) -> None:
    app.connect("autodoc-process-signature", _public_signature)
    app.connect("autodoc-process-bases", _public_base_names)
    app.connect("missing-reference", _resolve_public_name)
