"""The house cannot drift: each module imports only the layers below it.

Imports are read from the source (module level and inside functions alike);
those under ``if TYPE_CHECKING:`` are for type checkers only and do not count.
A new module must be given its layer here, which is the point: its place in
the house is a decision, written down.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "asynckit"

# Lower numbers are lower layers (see README "Development").
LAYERS = {
    "asynckit.errors": 0,  # exceptions, and the checks that raise them
    "asynckit.node": 0,  # the record, its states, the lock
    "asynckit.protocols": 0,  # the typed seams (Backend, PoolHandle, Spec)
    "asynckit.report": 1,  # unobserved-error reporting
    "asynckit.store": 1,  # the SQLite result store (stdlib only)
    "asynckit.lifecycle": 2,  # beside all: registry, Ctrl-C, exit, fork
    "asynckit.waiting": 3,  # the one blocking-wait helper, drains
    "asynckit.value": 4,  # the proxy
    "asynckit.asynclist": 5,  # AsyncList and the map iterator
    "asynckit.inputs": 6,  # how a task's inputs are found
    "asynckit.gates": 6,  # limit slots, rate buckets, per key
    "asynckit.graph": 7,  # link, the one settle, cancel, gather
    "asynckit.admission": 8,  # HELD vs QUEUED: through a gate; the timer
    "asynckit.run": 9,  # execute/finish/fail a claimed task, deadlines
    "asynckit.task": 7,  # @pool.task options
    "asynckit.keys": 6,  # the keys of cache=True calls
    "asynckit.cache": 9,  # a cache=True call's look-up, the lazy result of a hit
    "asynckit.backends": 10,
    "asynckit.backends.threads": 10,
    "asynckit.backends.loop": 10,
    "asynckit.backends.executor": 10,
    "asynckit.backends.batches": 10,  # the processes backend's batches, map chunks
    "asynckit.backends.packing": 10,  # a chunk of pool.map's calls as one task
    "asynckit.backends.dask": 10,
    "asynckit.backends.dask_watch": 10,  # hearing a Dask client's futures settle
    "asynckit.backends.pickling": 10,  # naming what does not pickle (processes, Dask)
    "asynckit.helpers": 11,
    "asynckit.mapping": 12,  # pool.map: its calls one by one, or packed in chunks
    "asynckit.dot": 11,
    "asynckit.progress": 11,
    "asynckit.pool": 13,
    "asynckit": 14,
    "asynckit.store.__main__": 14,  # python -m asynckit.store
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> set[str]:
    """The asynckit modules ``path`` imports at run time."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("asynckit"):
                if node.module is None or target in LAYERS and any(
                        f"{target}.{alias.name}" in LAYERS for alias in node.names):
                    found.update(f"{target}.{alias.name}" for alias in node.names
                                 if f"{target}.{alias.name}" in LAYERS)
                else:
                    found.add(target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("asynckit"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    found.discard(module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    missing = [_module_name(p) for p in MODULES if _module_name(p) not in LAYERS]
    assert not missing, f"give these modules a layer in tests/test_layers.py: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_imports_go_down_only(path: Path) -> None:
    module = _module_name(path)
    rank = LAYERS[module]
    upward = []
    for target in sorted(_imports(path)):
        if target.startswith("asynckit.backends") and module.startswith("asynckit.backends"):
            continue  # the backends package: make_backend picks among its modules
        if LAYERS.get(target, 99) >= rank:
            upward.append(f"{target} (layer {LAYERS.get(target)})")
    assert not upward, f"{module} (layer {rank}) imports " + ", ".join(upward)


def test_the_proxy_and_the_backends_know_nothing_of_the_pool() -> None:
    for path in MODULES:
        module = _module_name(path)
        if module.startswith(("asynckit.backends", "asynckit.value", "asynckit.asynclist",
                              "asynckit.graph", "asynckit.run", "asynckit.waiting")):
            assert "asynckit.pool" not in _imports(path), module


def test_no_module_is_far_past_the_size_of_one_concept() -> None:
    sizes = {_module_name(p): len(p.read_text().splitlines()) for p in MODULES}
    assert max(sizes.values()) <= 560, sizes
