"""Pictures: the dependency graph behind some AsyncValues, as Graphviz DOT.

``to_dot`` walks each node's ``inputs`` backwards. A node keeps only light
metadata once it has settled (name, state, how long it ran, its input
nodes): never its result, function or arguments, so a picture can be drawn
long after the work is done without the graph keeping results alive.
"""

from __future__ import annotations

from typing import Any

from .asynclist import PROXY_TYPES
from .node import (
    CANCELLED,
    DONE,
    FAILED,
    GATHER,
    HELD,
    PENDING,
    QUEUED,
    RUNNING,
    STATE_NAMES,
    Node,
)
from .value import describe

__all__ = ["to_dot"]

#: Fill colour per state (Graphviz X11 names).
COLOURS = {
    PENDING: "white",
    HELD: "orange",  # waiting for a limit slot, a rate token or a retry delay
    QUEUED: "lightyellow",
    RUNNING: "lightskyblue",
    DONE: "palegreen",
    FAILED: "salmon",
    CANCELLED: "lightgrey",
}


def to_dot(*values: Any) -> str:
    """Graphviz DOT source for the dependency graph behind ``values``.

    One box per task (its function name, or ``name(args…)`` while its
    arguments are still held), coloured by state, with its run time once it
    has run; an arrow from each input to the task that used it. Also takes
    lists (or other iterables) of AsyncValues. Never blocks.

    Render it with Graphviz, for instance::

        Path("graph.dot").write_text(asynckit.to_dot(result))
        # dot -Tpng graph.dot -o graph.png
    """
    roots: list[Node] = []
    for value in values:
        _collect(value, roots)
    ids: dict[int, int] = {}  # id(node) -> number; the nodes stay alive in `order`
    order: list[Node] = []
    todo = list(reversed(roots))
    while todo:
        node = todo.pop()
        if id(node) in ids:
            continue
        ids[id(node)] = len(order)
        order.append(node)
        todo.extend(reversed(node.inputs))
    lines = [
        "digraph asynckit {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [color="gray40"];',
    ]
    for node in order:
        lines.append(f'  n{ids[id(node)]} [label="{_quote(_label(node))}", '
                     f'fillcolor="{COLOURS.get(node.state, "white")}"];')
    for node in order:
        seen: set[int] = set()
        for inner in node.inputs:
            if id(inner) not in seen:
                seen.add(id(inner))
                lines.append(f"  n{ids[id(inner)]} -> n{ids[id(node)]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _collect(obj: Any, roots: list[Node]) -> None:
    if type(obj) in PROXY_TYPES:
        roots.append(obj._self_task)
    elif isinstance(obj, (str, bytes)) or not hasattr(type(obj), "__iter__"):
        raise TypeError(f"to_dot() takes AsyncValues (or iterables of them), "
                        f"not {type(obj).__name__}")
    else:
        for item in obj:
            _collect(item, roots)


def _label(node: Node) -> str:
    if node.fn is GATHER or node.state >= DONE:
        title = node.name or "task"
    else:
        title = describe(node)
    parts = [title, STATE_NAMES[node.state]]
    if node.took:
        parts[1] += f" {_duration(node.took)}"
    elif node.state >= FAILED:
        parts[1] += ", not run"
    if node.attempt:
        parts.append(f"{node.attempt + 1} attempts")
    if node.state == FAILED and node.error is not None:
        parts.append(type(node.error).__name__)
    return "\n".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.2f} s"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
