"""How a task's inputs are found (inputs.py): safe against other threads, any depth, cheap.

Each case here broke for users of ``concurrent.futures`` code (issue 13): a
shared results dict that tasks write into, a deep linked structure, a large
container passed as data.
"""

from __future__ import annotations

import sys
from collections import OrderedDict, namedtuple
from collections.abc import Iterator
from typing import Any

import pytest

import asynckit
from asynckit import Pool, opaque

pytestmark = pytest.mark.timeout(60)

DEEP = 100_000


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads every 10 µs: a race in the scan shows up at once."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


def linked(depth: int, last: Any) -> Any:
    node: Any = (last, None)
    for i in range(depth - 1):
        node = (i, node)
    return node


def walk(node: Any) -> tuple[int, Any]:
    depth = 0
    while node is not None:
        depth += 1
        last, node = node
    return depth, last


def test_a_shared_results_dict_that_tasks_write_into(pool: Pool, fast_switching: None) -> None:
    # The Executor idiom: tasks fill the caller's dict while it keeps submitting.
    results: dict[int, int] = {}

    def work(i: int, into: dict[int, int]) -> bool:
        into[i] = i * i
        return into is results

    futures = [pool.submit(work, i, results) for i in range(2000)]
    assert all(f.result(timeout=30) for f in futures)  # the very same dict, every time
    assert results == {i: i * i for i in range(2000)}


def test_a_shared_set_and_list_and_an_input_beside_them(pool: Pool,
                                                        fast_switching: None) -> None:
    # With an AsyncValue beside them the worker makes the arguments plain,
    # looking into the shared containers while other tasks change them.
    seen: set[int] = set()
    log: list[int] = []
    one = pool.do(abs, -1)

    def work(i: int, into: set[int], also: list[int], step: int) -> bool:
        into.add(i)
        also.append(i)
        if len(also) > 50:
            del also[:25]
        return into is seen and also is log and step == 1

    values = [pool.do(work, i, seen, log, one) for i in range(2000)]
    assert all(v.get(30) for v in values)
    assert seen == set(range(2000))


def test_any_depth_without_values(pool: Pool) -> None:
    chain = linked(DEEP, "end")
    assert pool.do(walk, chain).get(30) == (DEEP, "end")
    assert pool.do(lambda c: c is chain, chain).get(30)


def test_any_depth_with_a_value_at_the_bottom(pool: Pool, gates: Any) -> None:
    gate = gates()
    value = pool.do(lambda: gate.wait(10) and "bottom")
    result = pool.do(walk, linked(DEEP, value))
    assert asynckit.state(result) == "pending"  # found 100,000 levels down: a dependency
    gate.set()
    assert result.get(30) == (DEEP, "bottom")
    assert walk(asynckit.unwrap(linked(DEEP, value))) == (DEEP, "bottom")


def test_values_in_shared_and_self_containing_containers(pool: Pool) -> None:
    one = pool.do(abs, -1)
    shared = [one]
    out = pool.do(lambda x: x, [shared, shared, {"k": shared}]).get(10)
    assert out == [[1], [1], {"k": [1]}]
    assert out[0] is out[1] is out[2]["k"]  # rebuilt once, shared as in the input
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    got = pool.do(lambda x: x, [cyclic, one]).get(10)
    assert got[1] == 1 and got[0] is cyclic


def test_container_types_survive_the_iterative_rebuild(pool: Pool) -> None:
    point = namedtuple("point", "x y")
    one = pool.do(abs, -1)
    out = pool.do(lambda x: x, [point(one, 2), OrderedDict([(2, one), (1, 0)]),
                                frozenset({one}), (one,), {one: one}]).get(10)
    assert out == [point(1, 2), OrderedDict([(2, 1), (1, 0)]), frozenset({1}), (1,), {1: 1}]
    assert type(out[0]) is point and type(out[1]) is OrderedDict
    assert list(out[1]) == [2, 1]


def test_a_flat_list_of_values_is_gathered(pool: Pool) -> None:
    values = [pool.do(abs, -i) for i in range(1000)]
    assert pool.do(sum, values).get(10) == sum(range(1000))
    assert pool.do(lambda *xs: list(xs), *values).get(10) == list(range(1000))


def test_opaque_passes_the_object_itself_unscanned(pool: Pool, gates: Any) -> None:
    gate = gates()
    pending = pool.do(lambda: gate.wait(10) and 5)
    big = [pending, list(range(10))]
    # Not a dependency: the task runs while the value inside is still pending.
    got = pool.do(lambda data: (data is big, data[0].is_set()), opaque(big)).get(10)
    assert got == (True, False)
    assert pool.do(lambda *, data: data is big, data=opaque(big)).get(10)
    assert pool.submit(lambda data: data is big, opaque(big)).result(10)
    assert list(pool.map(lambda data: data is big, [opaque(big)] * 3)) == [True] * 3

    @pool.task
    def same(data: Any) -> bool:
        return data is big

    assert same(opaque(big)).get(10)
    gate.set()
    assert repr(opaque(3)) == "asynckit.opaque(3)"


def test_opaque_inside_a_container_is_a_type_error_at_the_call(pool: Pool) -> None:
    with pytest.raises(TypeError, match="whole argument"):
        pool.do(len, [opaque([1, 2])])
    with pytest.raises(TypeError, match="whole argument"):
        pool.do(len, data={"k": opaque(1)})
    assert pool.wait(10)


def test_a_container_whose_iteration_keeps_failing_is_an_error_at_the_call(pool: Pool) -> None:
    class Shifting(list[int]):
        def __iter__(self) -> Iterator[int]:
            raise RuntimeError("changed size during iteration")

    with pytest.raises(RuntimeError, match="opaque"):
        pool.do(len, Shifting([1]))
    assert pool.do(len, opaque(Shifting([1]))).get(10) == 1
