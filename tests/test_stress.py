"""Stress: random dependency graphs, many threads at once, and a model-based test.

Every value is checked, and every propagated error is checked by identity:
a task with failed inputs fails with the very exception object of one of
its failed ancestors (which one depends on timing, so the test computes the
set of acceptable objects).
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import asynckit
from asynckit import AsyncList, Pool


class Injected(Exception):
    """The failure a test injects into one task."""


def _compute(index: int, error: BaseException | None, inputs: list[int]) -> int:
    if error is not None:
        raise error
    return (index * 31 + sum(inputs)) % 1_000_003


def _positional(index: int, error: BaseException | None, *inputs: int) -> int:
    return _compute(index, error, list(inputs))


def _in_containers(index: int, error: BaseException | None, *,
                   items: dict[str, Any]) -> int:
    return _compute(index, error, list(items["list"]) + [v for (v,) in items["tuples"]])


def _blocking(index: int, error: BaseException | None, inputs: _Opaque) -> int:
    # Receives AsyncValues inside an object the scan does not look into, so
    # it waits for them itself, inside the worker (a nested wait).
    return _compute(index, error, [value.get() for value in inputs.values])


class _Opaque:
    """A holder the dependency scan does not look into."""

    def __init__(self, values: list[Any]) -> None:
        self.values = values


def _run_random_graph(seed: int) -> None:
    rng = random.Random(seed)
    workers = rng.randint(1, 8)
    size = rng.randint(30, 80)
    pool = Pool(workers)
    values: list[Any] = []
    expected: list[int | None] = []          # None: fails
    possible: list[set[int]] = []            # id()s of acceptable errors
    errors: dict[int, BaseException] = {}    # keeps the injected errors alive
    try:
        for index in range(size):
            inputs = rng.sample(range(index), rng.randint(0, min(3, index)))
            error = Injected(f"task {index}") if rng.random() < 0.05 else None
            if error is not None:
                errors[id(error)] = error
            args = [values[i] for i in inputs]
            how = rng.randrange(5)
            if how == 0:
                value = pool.do(_positional, index, error, *args)
            elif how == 1:
                half = len(args) // 2
                value = pool.do(_in_containers, index, error,
                                items={"list": args[:half],
                                       "tuples": [(a,) for a in args[half:]]})
            elif how == 2:
                value = pool.do(_compute, index, error, AsyncList(args))
            elif how == 3 and args:
                # The task itself waits on its inputs, which may still be
                # pending: no dependency edges at all.
                value = pool.do(_blocking, index, error, _Opaque(args))
            else:
                value = pool.do(_compute, index, error, args)
            values.append(value)

            failed_inputs = [i for i in inputs if expected[i] is None]
            if how == 3 and args:
                # Waits in list order: the first failed input is the one raised.
                failed_inputs = failed_inputs[:1]
            if failed_inputs:
                expected.append(None)
                possible.append(set().union(*(possible[i] for i in failed_inputs)))
            elif error is not None:
                expected.append(None)
                possible.append({id(error)})
            else:
                expected.append(_compute(index, None, [expected[i] for i in inputs]))  # type: ignore[misc]
                possible.append(set())

        for index in rng.sample(range(size), size):  # observe in random order
            value = values[index]
            if expected[index] is None:
                raised = asynckit.exception(value, timeout=20)
                assert raised is not None and id(raised) in possible[index], (seed, index, raised)
            else:
                assert value.get(timeout=20) == expected[index], (seed, index)
        assert pool.wait(20)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.timeout(60)
def test_random_graphs() -> None:
    for seed in range(40):
        _run_random_graph(seed)


@pytest.mark.timeout(60)
def test_sixteen_threads_submit_and_wait_on_each_others_values() -> None:
    threads, rounds = 16, 25
    pool = Pool(4)
    table: list[list[Any]] = [[None] * rounds for _ in range(threads)]
    barrier = threading.Barrier(threads)
    problems: list[BaseException] = []

    def step(own: int, neighbour: int) -> int:
        return own + neighbour + 1

    def expected(t: int, r: int) -> int:
        memo = [[tt for tt in range(threads)]]
        for _ in range(r):
            last = memo[-1]
            memo.append([last[tt] + last[(tt + 1) % threads] + 1 for tt in range(threads)])
        return memo[r][t]

    def worker(t: int) -> None:
        try:
            table[t][0] = pool.do(int, t)
            for r in range(1, rounds):
                barrier.wait(20)  # every thread has published round r - 1
                neighbour = table[(t + 1) % threads][r - 1]
                table[t][r] = pool.do(step, table[t][r - 1], neighbour)
                # Use someone else's value now, while it may still be pending.
                other = table[(t + 5) % threads][r - 1]
                if r % 3 == 0:
                    assert other + 0 == expected((t + 5) % threads, r - 1)
                else:
                    assert other.get(timeout=20) == expected((t + 5) % threads, r - 1)
        except BaseException as error:  # reported below, not swallowed
            problems.append(error)
            barrier.abort()

    runners = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(40)
    try:
        assert not problems, problems
        assert not any(runner.is_alive() for runner in runners)
        final = [table[t][rounds - 1].get(timeout=20) for t in range(threads)]
        assert final == [expected(t, rounds - 1) for t in range(threads)]
    finally:
        pool.shutdown(wait=True)


# --------------------------------------------------------------------------
# A model of the engine: submit, cancel, then let everything run


class EngineModel(RuleBasedStateMachine):
    """Tasks queue behind a gate on a one-worker pool, so every cancel lands
    before anything runs; the model predicts every outcome."""

    @initialize()
    def setup(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.pool = Pool(1)

        def gate() -> None:
            self.started.set()
            self.release.wait(20)

        self.gate = self.pool.do(gate)
        self.started.wait(20)
        self.values: list[Any] = []
        self.inputs: list[list[int]] = []
        self.injected: list[BaseException | None] = []
        # index -> the cancelled tasks whose CancelledError it may carry
        self.cancelled: dict[int, set[int]] = {}

    def _cancelled_by(self, inputs: list[int]) -> set[int]:
        return set().union(*(self.cancelled[i] for i in inputs if i in self.cancelled))

    @rule(data=st.data(), fail=st.booleans())
    def submit(self, data: st.DataObject, fail: bool) -> None:
        index = len(self.values)
        inputs = data.draw(st.lists(st.integers(0, index - 1), max_size=3, unique=True)
                           if index else st.just([]))
        error = Injected(str(index)) if fail and data.draw(st.integers(0, 3)) == 0 else None
        self.values.append(self.pool.do(_compute, index, error,
                                        [self.values[i] for i in inputs]))
        self.inputs.append(inputs)
        self.injected.append(error)
        roots = self._cancelled_by(inputs)
        if roots:
            self.cancelled[index] = roots  # failed at once with an input's error

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.values:
            return
        index = data.draw(st.integers(0, len(self.values) - 1))
        assert asynckit.cancel(self.values[index]) is (index not in self.cancelled)
        if index in self.cancelled:
            return
        self.cancelled[index] = {index}
        swept = {index}  # the cancel reaches every pending dependent, at once
        for later in range(index + 1, len(self.values)):
            if later not in self.cancelled and swept.intersection(self.inputs[later]):
                self.cancelled[later] = {index}
                swept.add(later)

    @invariant()
    def nothing_ran_yet(self) -> None:
        for index, value in enumerate(getattr(self, "values", [])):
            expected = "cancelled" if index in self.cancelled else "pending"
            assert asynckit.state(value) == expected

    def teardown(self) -> None:
        if not hasattr(self, "pool"):
            return
        self.release.set()
        try:
            errors = [asynckit.exception(value, timeout=20) for value in self.values]
            possible: list[set[int] | None] = []  # None: succeeded
            results: list[int | None] = []
            for index, value in enumerate(self.values):
                error = errors[index]
                failed_inputs = [i for i in self.inputs[index] if possible[i] is not None]
                if index in self.cancelled:
                    assert isinstance(error, asynckit.CancelledError)
                    allowed = {id(errors[root]) for root in self.cancelled[index]}
                elif failed_inputs:
                    allowed = set().union(*(possible[i] for i in failed_inputs))  # type: ignore[arg-type]
                elif self.injected[index] is not None:
                    allowed = {id(self.injected[index])}
                else:
                    assert error is None
                    result = value.get()
                    inputs = [results[i] for i in self.inputs[index]]
                    assert result == _compute(index, None, inputs)  # type: ignore[arg-type]
                    possible.append(None)
                    results.append(result)
                    continue
                assert error is not None and id(error) in allowed, (index, error)
                possible.append(allowed)
                results.append(None)
            assert self.pool.wait(20)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)


EngineModel.TestCase.settings = settings(
    max_examples=30, stateful_step_count=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_engine_model = pytest.mark.timeout(60)(EngineModel.TestCase)
