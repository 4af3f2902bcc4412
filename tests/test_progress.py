"""Progress bars: pool.wait(progress=True) and pool.map(..., progress=True)."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from asynckit import Pool

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def pool() -> Any:
    pool = Pool(worker_count=2, name="bars")
    yield pool
    pool.shutdown(wait=True)


def test_wait_progress_draws_settled_over_total(pool: Pool, capsys: Any,
                                                monkeypatch: Any) -> None:
    from asynckit import progress

    gate = threading.Event()
    track = progress.track

    def track_then_release(nodes: Any, desc: str) -> Any:
        bar = track(nodes, desc)
        gate.set()  # the tasks finish only once the bar counts them
        return bar

    monkeypatch.setattr(progress, "track", track_then_release)
    for n in range(7):
        pool.do(lambda n=n: gate.wait(5) and n)
    assert pool.wait(progress=True) is True
    err = capsys.readouterr().err
    assert "bars" in err and "7/7" in err


def test_wait_progress_with_nothing_to_do(pool: Pool, capsys: Any) -> None:
    assert pool.wait(progress=True) is True
    assert "bars" in capsys.readouterr().err


def test_wait_progress_timeout_closes_the_bar(pool: Pool, capsys: Any) -> None:
    gate = threading.Event()
    pool.do(gate.wait, 5)
    pool.do(abs, 1).wait(5)
    assert pool.wait(0.05, progress=True) is False
    err = capsys.readouterr().err
    assert "/1" in err
    gate.set()
    assert pool.wait(5)
    assert capsys.readouterr().err == ""  # a closed bar is never drawn again


def test_map_progress(pool: Pool, capsys: Any) -> None:
    def square(x: int) -> int:
        return x * x

    result = pool.map(square, range(12), progress=True)
    assert list(result) == [x * x for x in range(12)]
    assert pool.wait(5)
    err = capsys.readouterr().err
    assert "square" in err and "12/12" in err


def test_without_tqdm_the_error_names_the_extra(pool: Pool, monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.delitem(sys.modules, "asynckit.progress", raising=False)
    with pytest.raises(ImportError, match=r"asynckit\[progress\]"):
        pool.wait(progress=True)
    ran: list[int] = []
    with pytest.raises(ImportError, match=r"asynckit\[progress\]"):
        pool.map(ran.append, [1, 2], progress=True)
    assert pool.wait(5) and ran == []  # nothing was submitted
    assert pool.wait(5)  # without progress it works as ever


def test_the_bar_starts_no_monitor_thread(pool: Pool) -> None:
    from asynckit.progress import _Bar

    assert _Bar.monitor_interval == 0
    pool.map(abs, range(3), progress=True)
    assert pool.wait(5)
    assert not [t for t in threading.enumerate() if type(t).__name__ == "TMonitor"]
