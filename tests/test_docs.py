"""The documentation site builds clean and its code runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import asynckit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML site, built nitpicky (-n: every reference resolves, through
    the inventories in docs/_inventories, offline) with warnings as errors."""
    out = tmp_path_factory.mktemp("html")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "-q", "-b", "html", "docs", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == "", done.stderr
    return out


@pytest.mark.timeout(180)
def test_site_has_the_pages_a_user_looks_for(site: Path) -> None:
    for page in ("index", "install", "quickstart", "examples", "api", "changes",
                 "guide/index", "guide/values", "guide/dependencies", "guide/errors",
                 "guide/async", "guide/backends", "guide/options", "guide/typing",
                 "guide/performance", "guide/pools"):
        assert (site / f"{page}.html").is_file(), page


@pytest.mark.timeout(180)
def test_api_reference_links_the_standard_library(site: Path) -> None:
    api = (site / "api.html").read_text()
    for name in ("concurrent.futures.Executor", "concurrent.futures.Future"):
        assert f'href="https://docs.python.org/3/library/concurrent.futures.html#{name}"' in api
    text = re.sub(r"<[^>]+>", "", api)
    # Signatures show what a user passes: no private parameters, sentinels or types.
    for unwanted in ("_deadline", "_from_map", "<object object", "&lt;object object",
                     "_TaskDecorator", "class 'Exception'", "&lt;class"):
        assert unwanted not in text, unwanted
    assert "get(timeout=True)" in text
    assert "AsyncList(values=())" in text


def test_api_reference_documents_every_public_name() -> None:
    api = (DOCS / "api.rst").read_text()
    for name in asynckit.__all__:
        assert f":: {name}\n" in api, name


@pytest.mark.timeout(60)
def test_quickstart_runs_as_written(tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text((DOCS / "quickstart.py").read_text())
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "error::ResourceWarning",
                           str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    total, seconds = done.stdout.splitlines()
    assert total == "57"
    assert float(seconds.removesuffix(" s")) < 3.0  # the eight downloads overlapped
