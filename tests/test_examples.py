"""Every script in examples/ runs for real, as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.timeout(120)
def test_scrape_example_prints_the_seed_results() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / "scrape.py")],
                          capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 5
    sizes = eval(lines[0])  # a list of 12 page sizes
    assert len(sizes) == 12 and all(size > 0 for size in sizes)
    assert int(lines[1]) == sum(sizes)
    assert lines[2:4] == ["7", "bye"]
    assert int(lines[4]) == sum(sizes) + 1
