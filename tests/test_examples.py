"""Every script in examples/ runs for real, as a user would run it."""

from __future__ import annotations

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
        "async_scrape.py", "cluster.py", "scrape.py"]


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
