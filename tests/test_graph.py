"""Implicit dependencies, failure propagation, AsyncList and flattening.

Ordering is proven with threading.Event; "not started" checks wait a short
while for a start that must not come (they cannot fail a correct engine).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, namedtuple
from typing import Any

import pytest

import asynckit
from asynckit import AsyncList, AsyncValue, Pool

NOT_YET = 0.05
PROXIES = (AsyncValue, AsyncList)
Point = namedtuple("Point", "x y")


def ident(x):
    return x


def gated(pool, gate, result=None, error=None):
    def task():
        assert gate.wait(30), "gate never opened"
        if error is not None:
            raise error
        return result

    return pool.do(task)


def _raise(error):
    raise error


def assert_plain(obj: Any) -> None:
    """No AsyncValue anywhere in ``obj`` (checked by type(): never a use)."""
    assert type(obj) not in PROXIES, obj
    if type(obj) in (str, bytes):
        return
    if isinstance(obj, dict):
        for key, item in obj.items():
            assert_plain(key)
            assert_plain(item)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for item in obj:
            assert_plain(item)


# --------------------------------------------------------------------------
# Implicit dependencies


def test_direct_and_keyword_arguments_are_dependencies(pool):
    a, b = pool.do(ident, 2), pool.do(ident, 3)
    got = pool.do(lambda x, *, y: (type(x), type(y), x * y), a, y=b).get()
    assert got == (int, int, 6)


def test_nested_values_in_every_container_become_plain(pool):
    v = [pool.do(ident, i) for i in range(10)]
    args = [
        [v[0], (v[1], Point(v[2], [v[3]]))],
        {"k": v[4], v[5]: "value", "deep": {"deeper": [{v[6]}]}},
        {v[7], "plain"},
        frozenset({v[8]}),
        ((((v[9],),),),),
    ]
    seen = {}

    def check(*received):
        assert_plain(received)
        seen["args"] = received
        return "ok"

    assert pool.do(check, *args).get() == "ok"
    lst, dct, st, fst, deep = seen["args"]
    assert lst == [0, (1, Point(2, [3]))]
    assert type(lst[1][1]) is Point and lst[1][1].x == 2
    assert dct == {"k": 4, 5: "value", "deep": {"deeper": [{6}]}}
    assert type(dct) is dict and 5 in dct and type(next(iter(k for k in dct if k == 5))) is int
    assert st == {7, "plain"} and type(st) is set
    assert fst == frozenset({8}) and type(fst) is frozenset
    assert deep == ((((9,),),),)


def test_container_subclasses_keep_their_type(pool):
    class Tagged(list):
        tag = "mine"

    v = pool.do(ident, 1)
    ordered = OrderedDict([("a", v), ("b", 2)])
    tagged = Tagged([v, 2])
    got = pool.do(lambda o, t: (type(o), list(o.items()), type(t), list(t)), ordered, tagged).get()
    assert got == (OrderedDict, [("a", 1), ("b", 2)], Tagged, [1, 2])


def test_containers_without_proxies_are_passed_as_the_same_object(pool):
    shared = [1, [2, 3]]
    mapping = {"a": [1]}
    inner = [4, 5]
    v = pool.do(ident, 6)
    got = pool.do(lambda s, m, mixed: (s is shared, m is mapping, mixed[0] is inner, mixed[1]),
                  shared, mapping, [inner, v]).get()
    assert got == (True, True, True, 6)


def test_task_list_it_mutates_is_the_callers_list(pool):
    target = []
    pool.do(target.append, 1).wait()
    pool.do(lambda lst: lst.append(2), target).wait()
    assert target == [1, 2]


@pytest.mark.parametrize("wrap", [
    lambda v: (v,),
    lambda v: ([v],),
    lambda v: ({"k": v},),
    lambda v: ((1, (2, [v])),),
    lambda v: (Point(1, v),),
], ids=["direct", "list", "dict", "nested", "namedtuple"])
def test_task_does_not_start_before_its_inputs_settle(pool, gates, wrap):
    gate = gates()
    source = gated(pool, gate, 10)
    started = threading.Event()

    def dependent(arg):
        started.set()
        assert_plain(arg)
        return arg

    v = pool.do(dependent, *wrap(source))
    assert not started.wait(NOT_YET)
    assert asynckit.state(v) == "pending"
    gate.set()
    assert v.get() == asynckit.unwrap(wrap(source)[0])
    assert started.is_set()


def test_several_inputs_all_wait(pool, gates):
    g1, g2 = gates(), gates()
    a, b = gated(pool, g1, 1), gated(pool, g2, 2)
    started = threading.Event()
    v = pool.do(lambda x, y: (started.set(), x + y[0])[1], a, [b])
    g1.set()
    a.wait()
    assert not started.wait(NOT_YET)  # b still pending
    g2.set()
    assert v.get() == 3


def test_keys_of_a_dict_are_dependencies(pool, gates):
    key = pool.do(ident, "name")
    key.wait()  # building the dict hashes the key: a use
    got = pool.do(lambda d: [(type(k), k) for k in d], {key: 1}).get()
    assert got == [(str, "name")]


def test_chain_of_many_tasks(pool):
    v = pool.do(ident, 0)
    for _ in range(300):
        v = pool.do(lambda x: x + 1, v)
    assert v.get() == 300


def test_diamond(pool, gates):
    gate = gates()
    root = gated(pool, gate, 1)
    left = pool.do(lambda x: x + 1, root)
    right = pool.do(lambda x: x * 10, root)
    bottom = pool.do(lambda a, b: (a, b), left, right)
    gate.set()
    assert bottom.get() == (2, 10)


# --------------------------------------------------------------------------
# Failure propagation


def test_failure_propagates_three_levels_with_the_same_exception(pool, gates):
    gate = gates()
    error = ValueError("root cause")
    ran = []
    root = gated(pool, gate, error=error)
    level1 = pool.do(lambda x: ran.append(1), root)
    level2 = pool.do(lambda x: ran.append(2), [level1])
    level3 = pool.do(lambda x: ran.append(3), {"k": (level2,)})
    gate.set()
    for value in (root, level1, level2, level3):
        with pytest.raises(ValueError) as excinfo:
            value.get()
        assert excinfo.value is error
    assert ran == []
    with pytest.raises(ValueError) as excinfo:
        level3 + 1
    assert excinfo.value is error


def test_dependent_of_an_already_failed_value_fails_at_once(pool):
    error = KeyError("early")
    bad = pool.do(_raise, error)
    bad.wait()
    late = pool.do(ident, [bad])
    with pytest.raises(KeyError) as excinfo:
        late.get()
    assert excinfo.value is error


def test_chain_runs_after_a_failure_in_the_graph(pool, gates):
    gate = gates()
    error = OSError("disk")
    root = gated(pool, gate, error=error)
    child = pool.do(ident, root)
    cleaned = []
    chained = child.chain(cleaned.append, "cleanup")
    gate.set()
    chained.get()
    assert cleaned == ["cleanup"]
    with pytest.raises(OSError) as excinfo:
        child.get()
    assert excinfo.value is error


def test_cancelled_input_cancels_dependents(gates):
    pool = Pool(worker_count=1)
    try:
        gate = gates()
        started = threading.Event()
        pool.do(lambda: (started.set(), gate.wait(30)))
        assert started.wait(10)
        queued = pool.do(ident, 1)
        dependent = pool.do(ident, [queued])
        assert asynckit.cancel(queued)
        with pytest.raises(asynckit.CancelledError):
            dependent.get()
        assert dependent.is_error()
    finally:
        gates.open_all()
        pool.shutdown()


# --------------------------------------------------------------------------
# AsyncList


def test_async_list_settles_when_all_items_have(pool, gates):
    g1, g2 = gates(), gates()
    a, b = gated(pool, g1, "a"), gated(pool, g2, "b")
    lst = AsyncList([a, "plain", b, 4])
    assert isinstance(lst, AsyncValue)
    assert len(lst) == 4 and not lst.is_set()
    g1.set()
    a.wait()
    assert not lst.wait(NOT_YET)
    g2.set()
    assert lst.get() == ["a", "plain", "b", 4]
    assert type(lst.get()) is list
    assert_plain(lst.get())


def test_async_list_of_plain_items_and_empty():
    assert AsyncList([1, 2]).get() == [1, 2]
    assert AsyncList([]).get() == []
    assert AsyncList(iter(range(3))).get() == [0, 1, 2]


def test_async_list_fails_with_the_first_failed_item_in_list_order(pool, gates):
    g1, g2 = gates(), gates()
    first_error, second_error = ValueError("item 1"), TypeError("item 2")
    item1 = gated(pool, g1, error=first_error)
    item2 = gated(pool, g2, error=second_error)
    lst = AsyncList([pool.do(ident, 0), item1, item2])
    g2.set()  # item 2 fails first in time
    item2.wait()
    assert not lst.is_set()
    g1.set()  # item 1 fails later
    with pytest.raises(ValueError) as excinfo:
        lst.get()
    assert excinfo.value is first_error
    assert item2.is_error()


def test_async_list_len_never_blocks(pool, gates):
    gate = gates()
    lst = AsyncList([gated(pool, gate, i) for i in range(3)])
    assert len(lst) == 3
    assert not lst.is_set()
    mapped = pool.map(lambda x: gate.wait(30) and x, range(5))
    assert len(mapped) == 5
    assert not mapped.is_set()


def test_async_list_iteration_yields_items_in_order_as_ready(pool, gates):
    item_gates = [gates() for _ in range(3)]
    lst = AsyncList([gated(pool, g, i * 10) for i, g in enumerate(item_gates)] + ["end"])
    it = iter(lst)
    item_gates[0].set()
    assert next(it) == 0  # items 1 and 2 are still gated
    assert not lst.is_set()
    item_gates[1].set()
    assert next(it) == 10
    item_gates[2].set()
    assert next(it) == 20
    assert next(it) == "end"
    with pytest.raises(StopIteration):
        next(it)
    assert list(lst) == [0, 10, 20, "end"]


def test_async_list_iteration_raises_the_failed_item_when_it_gets_there(pool, gates):
    gate = gates()
    error = RuntimeError("second")
    lst = AsyncList([pool.do(ident, 1), pool.do(_raise, error), gated(pool, gate, 3)])
    it = iter(lst)
    assert next(it) == 1
    with pytest.raises(RuntimeError) as excinfo:
        next(it)
    assert excinfo.value is error


def test_async_list_is_chainable_and_usable_as_an_argument(pool, gates):
    gate = gates()
    lst = AsyncList([gated(pool, gate, 1), pool.do(ident, 2)])
    seen = []
    chained = lst.chain(seen.append, "after")
    total = pool.do(lambda items: (type(items), sum(items)), lst)
    nested = pool.do(lambda d: d["items"], {"items": lst})
    assert not chained.wait(NOT_YET)
    gate.set()
    assert total.get() == (list, 3)
    assert nested.get() == [1, 2]
    chained.wait()
    assert seen == ["after"]
    assert lst + [3] == [1, 2, 3]


def test_failed_async_list_fails_its_dependents_and_chain_still_runs(pool):
    error = ValueError("bad item")
    lst = AsyncList([pool.do(ident, 1), pool.do(_raise, error)])
    dependent = pool.do(sum, lst)
    chained = lst.chain(lambda: "cleaned")
    with pytest.raises(ValueError) as excinfo:
        dependent.get()
    assert excinfo.value is error
    assert chained.get() == "cleaned"


def test_async_list_of_async_lists(pool):
    inner = AsyncList([pool.do(ident, 1), pool.do(ident, 2)])
    outer = AsyncList([inner, AsyncList([pool.do(ident, 3)])])
    assert outer.get() == [[1, 2], [3]]
    assert_plain(outer.get())


# --------------------------------------------------------------------------
# Flattening


def test_task_returning_a_value_settles_with_its_outcome(pool, gates):
    gate = gates()
    inner = gated(pool, gate, "inner result")
    outer = pool.do(lambda: inner)
    assert not outer.wait(NOT_YET)
    gate.set()
    assert outer.get() == "inner result"
    assert type(outer.get()) is str


def test_task_returning_a_failed_value_fails_with_the_same_exception(pool, gates):
    gate = gates()
    error = ZeroDivisionError("inner")
    inner = gated(pool, gate, error=error)
    outer = pool.do(lambda: inner)
    gate.set()
    with pytest.raises(ZeroDivisionError) as excinfo:
        outer.get()
    assert excinfo.value is error


def test_task_returning_a_settled_value(pool):
    inner = pool.do(ident, [1])
    inner.wait()
    assert pool.do(lambda: inner).get() == [1]
    assert type(pool.do(lambda: inner).get()) is list


def test_flattening_does_not_hold_the_worker(gates):
    other = Pool(worker_count=1)
    pool = Pool(worker_count=1)
    try:
        gate = gates()
        source = gated(other, gate, 5)
        outer = pool.do(lambda: pool.do(lambda x: x * 2, source))
        # The only worker is free again although `outer` has not settled.
        assert pool.do(ident, "free").get() == "free"
        assert not outer.is_set()
        gate.set()
        assert outer.get() == 10
    finally:
        gates.open_all()
        pool.shutdown()
        other.shutdown()


@pytest.mark.timeout(30)
def test_recursive_fib_with_two_workers():
    pool = Pool(worker_count=2)
    try:
        @pool.task
        def add(a, b):
            return a + b

        @pool.task
        def fib(n):
            if n < 2:
                return n
            return add(fib(n - 1), fib(n - 2))

        assert fib(15).get() == 610
        assert fib(1) == 1
    finally:
        pool.shutdown()


def test_flattening_chain_of_returned_values(pool):
    def wrap(n):
        if n == 0:
            return "bottom"
        return pool.do(wrap, n - 1)

    assert pool.do(wrap, 50).get() == "bottom"


def test_iterating_a_settled_failed_list_yields_items_before_the_failure(pool):
    error = ZeroDivisionError("second")
    lst = AsyncList([pool.do(ident, 1), pool.do(_raise, error), pool.do(ident, 3)])
    assert lst.wait(10)
    it = iter(lst)
    assert next(it) == 1  # as if iteration had started before the list settled
    with pytest.raises(ZeroDivisionError) as excinfo:
        next(it)
    assert excinfo.value is error
    mapped = pool.map(lambda x: 10 // x, [5, 0])
    assert mapped.wait(10)
    got = []
    with pytest.raises(ZeroDivisionError):
        for item in mapped:
            got.append(item)
    assert got == [2]


def test_the_same_value_twice_is_one_dependency_counted_right(pool, gates):
    gate = gates()
    v = gated(pool, gate, 4)
    both = pool.do(lambda a, b: a * b, v, [v, v])
    lst = AsyncList([v, v])
    chained = v.chain(ident, v)
    gate.set()
    assert both.get() == [4] * 8  # 4 * [4, 4]
    assert lst.get() == [4, 4]
    assert chained.get() == 4
