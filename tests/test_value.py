"""AsyncValue: its five methods, repr, and every proxy operation on a result.

Each operation is proven to block until the task settles: the task waits on an
Event, the use starts in a thread, the use has not returned, the gate opens,
the use returns the right answer. "Has not returned" waits a short while and
asserts nothing came: it cannot fail a correct proxy.
"""

from __future__ import annotations

import copy
import operator
import os
import pickle
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

import asynckit
from asynckit import AsyncList, AsyncValue, Pool

NOT_YET = 0.05


@pytest.fixture
def busy_pool(gates):
    """A one-worker pool whose worker is held by a gated task: new tasks stay unstarted."""
    p = Pool(worker_count=1)
    started = threading.Event()
    gated(p, gates(), "blocker", started=started)
    assert started.wait(10)
    yield p
    gates.open_all()
    p.shutdown(cancel_futures=True)


def gated(pool: Pool, gate: threading.Event, result: Any = None, error: Any = None,
          started: threading.Event | None = None) -> AsyncValue[Any]:
    """A task that waits for ``gate``, then returns ``result`` or raises ``error``."""

    def task():
        if started is not None:
            started.set()
        assert gate.wait(30), "gate never opened"
        if error is not None:
            raise error
        return result

    return pool.do(task)


class InThread:
    """Run ``use()`` in a thread; remember what it returned or raised."""

    def __init__(self, use: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

        def run():
            try:
                self.result = use()
            except BaseException as error:
                self.error = error
            finally:
                self.done.set()

        threading.Thread(target=run, daemon=True).start()

    def outcome(self) -> Any:
        assert self.done.wait(20), "the use never returned"
        if self.error is not None:
            raise self.error
        return self.result


def blocks_then(pool, gate, result, use, error=None):
    """Assert ``use(v)`` blocks while the task is gated, then return its outcome."""
    v = gated(pool, gate, result, error)
    user = InThread(lambda: use(v))
    assert not user.done.wait(NOT_YET), f"returned {user.result!r} before the task settled"
    assert not v.is_set()
    gate.set()
    return user.outcome(), v


# --------------------------------------------------------------------------
# get / wait / is_set / is_error


@pytest.mark.parametrize("timeout", [True, None, 5, 2.5])
def test_get_waits_and_returns_the_plain_result(pool, gates, timeout):
    gate = gates()
    result, _ = blocks_then(pool, gate, [1, 2], lambda v: v.get(timeout))
    assert type(result) is list and result == [1, 2]


def test_get_without_argument_waits(pool, gates):
    gate = gates()
    result, _ = blocks_then(pool, gate, 7, lambda v: v.get())
    assert type(result) is int and result == 7


def test_get_with_seconds_raises_builtin_timeout_error(pool, gates):
    gate = gates()
    v = gated(pool, gate, 1)
    with pytest.raises(TimeoutError) as excinfo:
        v.get(0.05)
    assert type(excinfo.value) is TimeoutError
    gate.set()
    assert v.get(10) == 1


@pytest.mark.parametrize("timeout", [False, 0, 0.0])
def test_get_false_or_zero_does_not_wait(pool, gates, timeout):
    gate = gates()
    v = gated(pool, gate, "ready")
    with pytest.raises(TimeoutError):
        v.get(timeout)
    gate.set()
    v.wait()
    assert v.get(timeout) == "ready"


@pytest.mark.parametrize("key", ["key", b"k", (1,), [1]])
def test_get_with_a_key_is_a_type_error_pointing_at_unwrap(pool, key):
    v = pool.do(dict, key=1)
    v.wait()
    with pytest.raises(TypeError, match=r"asynckit\.unwrap"):
        v.get(key)
    with pytest.raises(TypeError, match=r"asynckit\.unwrap"):
        v.get("key", None)
    assert asynckit.unwrap(v).get("key") == 1
    assert asynckit.unwrap(v).get("other", 5) == 5


def test_get_with_a_key_on_a_pending_value_raises_at_once(pool, gates):
    gate = gates()
    v = gated(pool, gate, {})
    with pytest.raises(TypeError, match=r"asynckit\.unwrap"):
        v.get("key")
    assert not v.is_set()


def test_get_re_raises_the_same_exception_object(pool):
    error = KeyError("missing")
    v = pool.do(_raise, error)
    for _ in range(3):
        with pytest.raises(KeyError) as excinfo:
            v.get()
        assert excinfo.value is error
    # re-raising does not grow the traceback each time
    depth = len(list(_walk_tb(excinfo.value.__traceback__)))
    with pytest.raises(KeyError):
        v.get()
    assert len(list(_walk_tb(error.__traceback__))) == depth


def _raise(error):
    raise error


def _walk_tb(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_wait_is_event_like(pool, gates):
    gate = gates()
    v = gated(pool, gate, 1)
    assert v.wait(0.02) is False
    assert v.wait(0) is False
    waiter = InThread(v.wait)
    assert not waiter.done.wait(NOT_YET)
    gate.set()
    assert waiter.outcome() is True
    assert v.wait() is True
    assert v.wait(0) is True


def test_wait_on_a_failure_returns_true_without_raising(pool):
    v = pool.do(_raise, ValueError("x"))
    assert v.wait() is True
    assert v.is_error()


@pytest.mark.parametrize("bad", ["1", True, [1]])
def test_wait_rejects_a_non_number(pool, gates, bad):
    gate = gates()
    v = gated(pool, gate, 1)
    with pytest.raises(TypeError, match="timeout"):
        v.wait(bad)
    gate.set()
    assert v.get() == 1


def test_is_set_and_is_error_never_block(pool, gates):
    gate, gate2 = gates(), gates()
    ok = gated(pool, gate, 1)
    bad = gated(pool, gate2, error=ValueError("no"))
    assert (ok.is_set(), ok.is_error()) == (False, False)
    assert (bad.is_set(), bad.is_error()) == (False, False)
    gate.set()
    gate2.set()
    ok.wait()
    bad.wait()
    assert (ok.is_set(), ok.is_error()) == (True, False)
    assert (bad.is_set(), bad.is_error()) == (True, True)


def test_cancelled_is_set_and_is_error(busy_pool):
    v = busy_pool.do(ident, 2)
    assert (v.is_set(), v.is_error()) == (False, False)
    assert asynckit.cancel(v) is True
    assert v.is_set() and v.is_error()
    with pytest.raises(asynckit.CancelledError):
        v.get()
    with pytest.raises(asynckit.CancelledError):
        v + 1


def test_many_threads_wait_on_one_value(pool, gates):
    gate = gates()
    v = gated(pool, gate, 20)
    users = [InThread(lambda: v + 1) for _ in range(6)]
    users += [InThread(v.get) for _ in range(6)]
    users += [InThread(v.wait) for _ in range(4)]
    assert not any(user.done.wait(0.01) for user in users)
    gate.set()
    assert [user.outcome() for user in users] == [21] * 6 + [20] * 6 + [True] * 4


def test_result_none_works(pool, gates):
    gate = gates()
    v = gated(pool, gate, None)
    gate.set()
    assert v.get() is None
    assert v == None  # noqa: E711 - the proxy's == is the point
    assert not v
    assert str(v) == "None"
    assert repr(v) == "None"
    assert v.get() is None
    assert pickle.loads(pickle.dumps(v)) is None


def test_value_cannot_be_constructed_directly():
    with pytest.raises(TypeError, match="cannot be created directly"):
        AsyncValue(3)


# --------------------------------------------------------------------------
# chain


def test_chain_runs_after_success_and_failure(pool, gates):
    gate = gates()
    order = []
    ok = gated(pool, gate, 1)
    after_ok = ok.chain(order.append, "after ok")
    assert not after_ok.wait(NOT_YET)
    assert order == []
    gate.set()
    after_ok.wait()
    assert order == ["after ok"]

    bad = pool.do(_raise, ValueError("boom"))
    cleanup = bad.chain(lambda tag: tag * 2, "clean")
    assert cleanup.get() == "cleanclean"
    assert isinstance(cleanup, AsyncValue)
    assert bad.is_error()  # observed: no warning logged later


def test_chain_does_not_receive_the_value_and_waits_for_its_own_args(pool, gates):
    gate, gate2 = gates(), gates()
    first = gated(pool, gate, "first")
    arg = gated(pool, gate2, 5)
    chained = first.chain(lambda *args, **kwargs: (args, kwargs), arg, k=[arg])
    gate.set()
    first.wait()
    assert not chained.wait(NOT_YET)  # its own argument is still pending
    gate2.set()
    assert chained.get() == ((5,), {"k": [5]})


def test_chain_fails_if_its_own_argument_failed(pool):
    error = ValueError("argument")
    bad = pool.do(_raise, error)
    chained = pool.do(ident, 1).chain(ident, bad)
    with pytest.raises(ValueError) as excinfo:
        chained.get()
    assert excinfo.value is error


def test_chain_runs_on_the_same_pool(pool):
    v = pool.do(ident, 1)
    chained = v.chain(lambda: threading.current_thread().name)
    assert pool.wait(10)  # pool.wait covers the chain (and never runs it inline)
    assert chained.is_set()
    name = chained.get()
    assert name.startswith(pool.name), name


def test_chain_of_an_async_list_runs_on_its_items_pool(pool):
    items = AsyncList([pool.do(ident, 1), pool.do(ident, 2)])
    assert items.get() == [1, 2]
    chained = items.chain(lambda: threading.current_thread().name)
    assert pool.wait(10)
    assert chained.is_set()
    name = chained.get()
    assert name.startswith(pool.name), name


def test_chain_of_chain(pool):
    log = []
    pool.do(log.append, 1).chain(log.append, 2).chain(log.append, 3).wait()
    assert log == [1, 2, 3]


# --------------------------------------------------------------------------
# repr and isinstance(v, AsyncValue)


@pytest.mark.timeout(10)
def test_repr_never_blocks_and_shows_name_args_state(pool, busy_pool, gates):
    gate = gates()
    started = threading.Event()

    @busy_pool.task(name="download")
    def fetch(url):
        started.set()
        gate.wait(30)
        return [len(url)]

    v = fetch("https://example.org/")
    text = repr(v)
    assert text == "<AsyncValue download('https://example.org/') pending>"
    running = pool.do(lambda: (started.set(), gate.wait(30), 1)[2])
    text = repr(running)
    assert text.startswith("<AsyncValue ") and text.endswith(("pending>", "running>"))
    assert started.wait(10)
    text = repr(running)
    assert text.startswith("<AsyncValue ") and text.endswith(" running>")
    assert not v.is_set()
    gate.set()
    assert running.get() == 1
    assert repr(running) == "1"
    gates.open_all()  # the busy pool's worker: v runs there, never on this thread
    v.wait()
    assert repr(v) == "[20]"


def test_repr_of_a_failure_names_the_error(pool):
    v = pool.do(_raise, ValueError("boom"))
    v.wait()
    text = repr(v)
    assert text.startswith("<AsyncValue _raise")
    assert "failed" in text and "ValueError('boom')" in text
    assert v.is_error()


def test_repr_of_pending_value_shows_its_pending_argument(pool, gates):
    gate = gates()
    inner = gated(pool, gate, 3)
    outer = pool.do(ident, inner)
    text = repr(outer)
    assert text.startswith("<AsyncValue ident(<") and text.endswith("pending>")
    gate.set()
    assert outer.get() == 3
    assert repr(outer) == "3"


def test_isinstance_async_value_never_blocks(pool, gates):
    gate = gates()
    v = gated(pool, gate, 3)
    assert isinstance(v, AsyncValue)
    assert not v.is_set()
    assert isinstance(AsyncList([v]), AsyncValue)
    assert not v.is_set()


# --------------------------------------------------------------------------
# Every operation family blocks, then acts on the result


class Box:
    """A result with a context manager, a call and an attribute."""

    def __init__(self):
        self.entered = self.exited = False
        self.label = "box"

    def __enter__(self):
        self.entered = True
        return "inside"

    def __exit__(self, *exc):
        self.exited = True
        return False

    def __call__(self, x, y=1):
        return x * 10 + y


def _with(v):
    with v as inside:
        return inside, v.entered


def _iadd_immutable(v):
    x = v
    x += 1
    return type(x), x, asynckit.unwrap(v)


def _iadd_list(v):
    original = v
    v += [3]
    return v is original, asynckit.unwrap(original)


def _imul_list(v):
    v *= 2
    return asynckit.unwrap(v)


OPERATIONS = [
    # arithmetic
    ("add", 6, lambda v: v + 1, 7),
    ("sub", 6, lambda v: v - 1, 5),
    ("mul", 6, lambda v: v * 2, 12),
    ("truediv", 6, lambda v: v / 4, 1.5),
    ("floordiv", 7, lambda v: v // 2, 3),
    ("mod", 7, lambda v: v % 4, 3),
    ("pow", 3, lambda v: v ** 2, 9),
    ("divmod", 7, lambda v: divmod(v, 2), (3, 1)),
    ("neg", 6, lambda v: -v, -6),
    ("pos", -6, lambda v: +v, -6),
    ("abs", -6, abs, 6),
    ("invert", 6, lambda v: ~v, -7),
    ("bitops", 6, lambda v: (v & 3, v | 1, v ^ 5, v << 1, v >> 1), (2, 7, 3, 12, 3)),
    ("round", 2.567, lambda v: round(v, 1), 2.6),
    ("matmul-free str concat", "ab", lambda v: v + "c", "abc"),
    # reflected
    ("radd", 6, lambda v: 1 + v, 7),
    ("rsub", 6, lambda v: 10 - v, 4),
    ("rmul", 3, lambda v: [0] * v, [0, 0, 0]),
    ("rtruediv", 4, lambda v: 10 / v, 2.5),
    ("rfloordiv", 4, lambda v: 10 // v, 2),
    ("rmod", 4, lambda v: 10 % v, 2),
    ("rpow", 3, lambda v: 2 ** v, 8),
    ("rdivmod", 4, lambda v: divmod(10, v), (2, 2)),
    ("rbitops", 6, lambda v: (3 & v, 1 | v, 5 ^ v, 1 << v), (2, 7, 3, 64)),
    ("radd str", "b", lambda v: "a" + v, "ab"),
    # in-place
    ("iadd immutable", 6, _iadd_immutable, (int, 7, 6)),
    ("iadd list", [1, 2], _iadd_list, (True, [1, 2, 3])),
    ("imul list", [1], _imul_list, [1, 1]),
    # comparisons, hash, bool
    ("eq", 6, lambda v: (v == 6, v == 7, 6 == v), (True, False, True)),
    ("ne", 6, lambda v: (v != 6, v != 7), (False, True)),
    ("order", 6, lambda v: (v < 7, v <= 6, v > 6, v >= 6, 5 < v), (True, True, False, True, True)),
    ("hash", "key", hash, hash("key")),
    ("dict key", "key", lambda v: {"key": 1}[v], 1),
    ("bool true", [0], bool, True),
    ("bool false", 0, bool, False),
    ("not", "", operator.not_, True),
    # containers
    ("len", [1, 2, 3], len, 3),
    ("iter", (4, 5), lambda v: list(iter(v)), [4, 5]),
    ("for", {"a": 1}, lambda v: [k for k in v], ["a"]),
    ("in", [1, 2], lambda v: (2 in v, 3 in v), (True, False)),
    ("getitem", [10, 20, 30], lambda v: (v[1], v[-1], v[:2]), (20, 30, [10, 20])),
    ("getitem dict", {"k": "v"}, lambda v: v["k"], "v"),
    ("sum", [1, 2, 3], sum, 6),
    ("sorted", [3, 1, 2], sorted, [1, 2, 3]),
    # call, attribute, with
    ("call", Box(), lambda v: v(4, y=2), 42),
    ("attribute", Box(), lambda v: v.label, "box"),
    ("method", "abc", lambda v: v.upper(), "ABC"),
    ("with", Box(), _with, ("inside", True)),
    ("doc", Box(), lambda v: v.__doc__, Box.__doc__),
    ("module", Box(), lambda v: v.__module__, __name__),
    # __index__
    ("range", 3, lambda v: list(range(v)), [0, 1, 2]),
    ("list index", 2, lambda v: [1, 2, 3][v], 3),
    ("operator.index", 5, operator.index, 5),
    ("hex", 255, hex, "0xff"),
    # conversions
    ("int", "42", int, 42),
    ("int of float", 4.7, int, 4),
    ("float", 3, float, 3.0),
    ("complex", 2, complex, 2 + 0j),
    ("bytes", b"ab", bytes, b"ab"),
    ("str", 12, str, "12"),
    ("format", 3.14159, lambda v: format(v, ".2f"), "3.14"),
    ("f-string", 3.14159, lambda v: f"[{v:>6.1f}]", "[   3.1]"),
    ("f-string plain", "x", lambda v: f"<{v}>", "<x>"),
    ("percent", 5, lambda v: "%d%%" % v, "5%"),  # noqa: UP031 - the % operator is the point
    # isinstance against the result's type
    ("isinstance", 3, lambda v: (isinstance(v, int), isinstance(v, str)), (True, False)),
    ("class", [1], lambda v: v.__class__, list),
    ("isinstance abc", {"a": 1}, lambda v: (isinstance(v, Mapping), isinstance(v, Sequence)),
     (True, False)),
    # pickle, copy
    ("pickle", {"a": [1]}, lambda v: pickle.loads(pickle.dumps(v)), {"a": [1]}),
    ("copy", [1, [2]], lambda v: copy.copy(v), [1, [2]]),
    ("deepcopy", [1, [2]], lambda v: copy.deepcopy(v), [1, [2]]),
]


@pytest.mark.parametrize("name, result, use, expected", OPERATIONS,
                         ids=[op[0] for op in OPERATIONS])
def test_operation_blocks_until_settled_then_acts_on_the_result(pool, gates, name, result,
                                                                use, expected):
    gate = gates()
    answer, v = blocks_then(pool, gate, result, use)
    assert answer == expected
    assert type(answer) is type(expected)
    assert type(answer) is not AsyncValue


def test_the_classes_keep_their_own_module_and_doc(pool):
    # A value's __module__ and __doc__ are its result's; the class's are its own.
    for cls in (AsyncValue, AsyncList, type(pool.map(ident, [1]))):
        assert cls.__module__.startswith("asynckit.") and isinstance(cls.__module__, str)
        assert isinstance(cls.__doc__, str) and cls.__doc__.strip()
        assert pickle.loads(pickle.dumps(cls)) is cls
        assert repr(cls) == f"<class '{cls.__module__}.{cls.__qualname__}'>"
    assert "transparent proxy" in AsyncValue.__doc__
    number = pool.do(ident, 3)
    with pytest.raises(AttributeError):
        number.__module__  # noqa: B018 - an int has none, and neither has its value


def test_pickle_and_copy_give_plain_values(pool):
    original = [1, [2]]
    v = pool.do(ident, original)
    loaded = pickle.loads(pickle.dumps(v))
    assert type(loaded) is list and loaded == original
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert type(pickle.loads(pickle.dumps(v, protocol))) is list
    shallow = copy.copy(v)
    assert type(shallow) is list and shallow is not original and shallow[1] is original[1]
    deep = copy.deepcopy(v)
    assert type(deep) is list and deep == original and deep[1] is not original[1]
    nested = copy.deepcopy({"k": v})
    assert type(nested["k"]) is list


def test_iadd_on_immutable_leaves_the_value_unchanged(pool):
    v = pool.do(ident, "ab")
    x = v
    x += "c"
    assert type(x) is str and x == "abc"
    assert v == "ab" and v.get() == "ab"
    assert isinstance(v, AsyncValue)


def test_iadd_on_a_list_mutates_the_result_object(pool):
    original = [1]
    v = pool.do(ident, original)
    before = v
    v += [2]
    assert v is before
    assert original == [1, 2]
    assert v.get() is original


def test_fspath_and_open_on_a_path_result(pool, gates, tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello")
    gate = gates()
    answer, v = blocks_then(pool, gate, str(path), os.fspath)
    assert answer == str(path)
    with open(v) as handle:
        assert handle.read() == "hello"
    p = pool.do(ident, path)
    assert os.fspath(p) == str(path)
    with open(p) as handle:
        assert handle.read() == "hello"


def test_with_calls_exit_on_the_result(pool):
    box = Box()
    v = pool.do(ident, box)
    with v as inside:
        assert inside == "inside"
    assert box.entered and box.exited


def test_attribute_assignment_goes_to_the_result(pool):
    box = Box()
    v = pool.do(ident, box)
    v.label = "renamed"
    assert box.label == "renamed"


# --------------------------------------------------------------------------
# A failed task re-raises its exception on use; a cancelled one CancelledError


FAILING_USES = [
    ("add", lambda v: v + 1),
    ("radd", lambda v: 1 + v),
    ("iadd", lambda v: operator.iadd(v, 1)),
    ("eq", lambda v: v == 1),
    ("hash", hash),
    ("bool", bool),
    ("len", len),
    ("iter", iter),
    ("in", lambda v: 1 in v),
    ("getitem", lambda v: v[0]),
    ("call", lambda v: v()),
    ("attribute", lambda v: v.real),
    ("with", _with),
    ("index", lambda v: range(v)),
    ("fspath", os.fspath),
    ("format", lambda v: f"{v:>3}"),
    ("int", int),
    ("float", float),
    ("bytes", bytes),
    ("str", str),
    ("isinstance", lambda v: isinstance(v, int)),
    ("pickle", pickle.dumps),
    ("copy", copy.copy),
    ("deepcopy", copy.deepcopy),
    ("get", lambda v: v.get()),
]


@pytest.mark.parametrize("name, use", FAILING_USES, ids=[u[0] for u in FAILING_USES])
def test_use_of_a_failed_value_re_raises_the_same_exception(pool, gates, name, use):
    error = LookupError("the task's own error")
    gate = gates()
    with pytest.raises(LookupError) as excinfo:
        blocks_then(pool, gate, None, use, error=error)
    assert excinfo.value is error


@pytest.mark.parametrize("name, use", FAILING_USES, ids=[u[0] for u in FAILING_USES])
def test_use_of_a_cancelled_value_raises_cancelled_error(busy_pool, name, use):
    v = busy_pool.do(ident, 5)
    assert asynckit.cancel(v)
    with pytest.raises(asynckit.CancelledError):
        use(v)


def ident(x):
    return x
