"""Every script in examples/ runs for real, as a user would run it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> list[str]:
    """Run an example in development mode, with ResourceWarning an error: an
    unclosed socket or file fails the test. A warning raised in a finalizer
    cannot fail the process (Python prints "Exception ignored in ..." and goes
    on), so stderr is checked for it too."""
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", str(EXAMPLES / name)],
        capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    assert "ResourceWarning" not in done.stderr, done.stderr
    return done.stdout.splitlines()


def test_every_example_is_tested_here() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "localsite.py") == [
        "async_scrape.py", "cluster.py", "resume.py", "scrape.py"]


@pytest.mark.timeout(120)
def test_scrape_prints_the_seed_results() -> None:
    lines = run_example("scrape.py")
    assert len(lines) == 5
    sizes = eval(lines[0])  # a list of 12 page sizes
    assert len(sizes) == 12 and all(size > 0 for size in sizes)
    assert int(lines[1]) == sum(sizes)
    assert lines[2:4] == ["7", "bye"]
    assert int(lines[4]) == sum(sizes) + 1


@pytest.mark.timeout(120)
def test_async_scrape_fetches_every_page() -> None:
    output = "\n".join(run_example("async_scrape.py"))
    assert "200 pages" in output
    assert "0 failed" in output


@pytest.mark.timeout(120)
def test_cluster_runs_the_decorator_example_on_a_local_cluster() -> None:
    lines = run_example("cluster.py")
    assert len(lines) == 2, lines
    sizes = eval(lines[0])  # the page sizes, downloaded on the cluster
    assert len(sizes) == 8 and all(size > 0 for size in sizes)
    assert int(lines[1]) == sum(sizes) + 1


@pytest.mark.timeout(120)
def test_resume_reruns_find_everything_in_the_store() -> None:
    lines = run_example("resume.py")
    assert lines[-1] == "first run: 200 steps; rerun: 0 steps; same total: True"
    assert lines.count("total 2646700") == 2
    assert lines[-2] == "store: 201 hits, 1 rows read, 0 written"


def _resume(tmp_path: Path, script: Path, *, stop: int | None = None,
            how: signal.Signals = signal.SIGINT) -> tuple[int, list[str]]:
    """Run the resume example on tmp_path's store; with ``stop``, interrupt it
    (``how``) once ``stop`` steps have printed that they finished."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "dev", str(script), "--store", str(tmp_path / "r.db"),
         "--log", str(tmp_path / "steps.log"), "--delay", "0.02"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    if stop is not None:
        while len(lines) < stop:
            line = proc.stdout.readline()
            assert line, "the run ended before it was interrupted"
            lines.append(line.strip())
        proc.send_signal(how)
    out, err = proc.communicate(timeout=100)
    lines += out.splitlines()
    if stop is None:
        assert proc.returncode == 0, err
    else:
        assert proc.returncode != 0, "the interrupted run finished"
    return proc.returncode, lines


def _log_lines(tmp_path: Path) -> int:
    return len((tmp_path / "steps.log").read_text().splitlines())


def _entries(tmp_path: Path, function: str) -> int:
    from asynckit import Store

    store = Store(tmp_path / "r.db")
    try:
        return {name: count for name, count, _ in store.entries()}.get(function, 0)
    finally:
        store.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_run_reruns_only_the_missing_calls(
        tmp_path: Path, how: signal.Signals) -> None:
    script = tmp_path / "resume.py"
    script.write_text((EXAMPLES / "resume.py").read_text())
    simulate = "__main__.run.<locals>.simulate"
    _resume(tmp_path, script, stop=100, how=how)
    ran_first = _log_lines(tmp_path)
    stored = _entries(tmp_path, simulate)
    # Part-way, by the log, not by the clock: 100 steps had printed, and at
    # most the 4 running between their print and their write are not stored.
    assert 100 - 4 <= stored <= ran_first < 200
    _, lines = _resume(tmp_path, script)
    assert _log_lines(tmp_path) - ran_first == 200 - stored  # only the missing calls ran
    assert "total 2646700" in lines  # the answer of an uninterrupted run
    _, lines = _resume(tmp_path, script)
    assert _log_lines(tmp_path) - ran_first == 200 - stored  # the third run ran nothing
    assert lines == ["total 2646700", "store: 201 hits, 1 rows read, 0 written"]
    # Edit the function's body: every call runs again.
    source = script.read_text()
    assert "return i * i\n" in source
    script.write_text(source.replace("return i * i\n", "return i * i + 0\n"))
    before = _log_lines(tmp_path)
    _, lines = _resume(tmp_path, script)
    assert _log_lines(tmp_path) - before == 200
    assert "total 2646700" in lines
