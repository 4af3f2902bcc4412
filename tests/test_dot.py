"""asynckit.to_dot: Graphviz DOT of the dependency graph behind values."""

from __future__ import annotations

import gc
import re
import shutil
import subprocess
import threading
import weakref

import pytest

import asynckit
from asynckit import Pool

pytestmark = pytest.mark.timeout(20)


def nodes_and_edges(dot: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    labels = dict(re.findall(r'^  (n\d+) \[label="(.*?)", fillcolor', dot, re.M))
    edges = set(re.findall(r"^  (n\d+) -> (n\d+);", dot, re.M))
    return labels, edges


def test_graph_of_a_small_computation(pool: Pool) -> None:
    @pool.task
    def load(n: int) -> int:
        return n

    @pool.task
    def add(a: int, b: int) -> int:
        return a + b

    a, b = load(1), load(2)
    total = add(a, add(b, b))
    assert total.get(5) == 5
    dot = asynckit.to_dot(total)
    assert dot.startswith("digraph asynckit {") and dot.rstrip().endswith("}")
    labels, edges = nodes_and_edges(dot)
    assert len(labels) == 4  # load, load, add, add: `b` twice is one node
    names = sorted(label.split("\\n")[0] for label in labels.values())
    assert names == ["test_graph_of_a_small_computation.<locals>.add"] * 2 + \
        ["test_graph_of_a_small_computation.<locals>.load"] * 2
    assert len(edges) == 3  # a->total, inner->total, b->inner (once)
    assert all("done" in label for label in labels.values())
    assert all(re.search(r"done [\d.]+ (µs|ms|s)", label) for label in labels.values())
    assert dot.count("palegreen") == 4


def test_states_have_colours_and_errors_are_named(pool: Pool) -> None:
    gate = threading.Event()
    started = threading.Event()
    running = pool.do(lambda: (started.set(), gate.wait(5)))
    assert started.wait(5)
    failed = pool.do(int, "not a number")
    failed.wait(5)
    after_failure = pool.do(abs, failed)
    waiting = pool.do(abs, running)
    labels, edges = nodes_and_edges(asynckit.to_dot(after_failure, waiting))
    text = asynckit.to_dot(after_failure, waiting)
    assert "salmon" in text and "lightskyblue" in text and "white" in text
    assert any("ValueError" in label and "not run" in label for label in labels.values())
    assert any(label.startswith("abs(<") for label in labels.values())  # pending: args shown
    assert len(edges) == 2
    gate.set()
    asynckit.exception(failed)


def test_cancelled_held_and_retried(pool: Pool) -> None:
    gate = threading.Event()
    started = threading.Event()

    @pool.task(limit=1)
    def one_at_a_time() -> None:
        started.set()
        gate.wait(5)

    first = one_at_a_time()
    assert started.wait(5)
    held = one_at_a_time()
    assert "held" in asynckit.to_dot(held)
    assert asynckit.cancel(held)
    assert "lightgrey" in asynckit.to_dot(held)
    gate.set()
    first.wait(5)
    tries = iter([ValueError, ValueError, None])

    def flaky() -> str:
        error = next(tries)
        if error:
            raise error("again")
        return "ok"

    retried = pool.task(retries=2)(flaky)()
    assert retried.get(5) == "ok"
    assert "3 attempts" in asynckit.to_dot(retried)


def test_async_list_and_iterables_of_values(pool: Pool) -> None:
    values = [pool.do(abs, -n) for n in range(3)]
    gathered = asynckit.AsyncList(values)
    gathered.wait(5)
    labels, edges = nodes_and_edges(asynckit.to_dot(gathered))
    assert len(labels) == 4 and len(edges) == 3
    labels, edges = nodes_and_edges(asynckit.to_dot(values))
    assert len(labels) == 3 and not edges


def test_labels_are_quoted(pool: Pool) -> None:
    gate = threading.Event()
    value = pool.task(name='say "hi"\\')(lambda text: text)(pool.do(gate.wait, 5))
    dot = asynckit.to_dot(value)
    assert 'say \\"hi\\"\\\\' in dot
    gate.set()
    value.wait(5)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="AsyncValue"):
        asynckit.to_dot(42)
    with pytest.raises(TypeError):
        asynckit.to_dot("not a value")
    assert "digraph" in asynckit.to_dot()


def test_the_graph_does_not_keep_results_alive(pool: Pool) -> None:
    class Big:
        pass

    first = pool.do(Big)
    ref = weakref.ref(first.get(5))
    second = pool.do(lambda big: 1, first)
    assert second.get(5) == 1
    del first
    gc.collect()
    assert ref() is None  # `second`'s node still records its input node
    assert len(nodes_and_edges(asynckit.to_dot(second))[0]) == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_accepts_the_output(pool: Pool) -> None:
    value = pool.do(sum, [pool.do(abs, -n) for n in range(3)])
    value.wait(5)
    done = subprocess.run(["dot", "-Tsvg"], input=asynckit.to_dot(value), text=True,
                          capture_output=True, timeout=15)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout
