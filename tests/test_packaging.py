"""The sdist is complete: it carries its licence and metadata, passes `twine
check`, and runs its own tests once unpacked (a packager's first step)."""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import asynckit

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist from this tree, offline: the dev set installs setuptools
    and build, so no isolated build environment has to be downloaded."""
    out = tmp_path_factory.mktemp("dist")
    done = run(sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out),
               ".", cwd=ROOT, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    (archive,) = out.glob("asynckit-*.tar.gz")
    return archive


def unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    (top,) = into.iterdir()
    return top


@pytest.mark.timeout(120)
def test_sdist_metadata_and_files(sdist: Path, tmp_path: Path) -> None:
    assert sdist.name == f"asynckit-{asynckit.__version__}.tar.gz"
    top = unpack(sdist, tmp_path)
    info = email.parser.Parser().parsestr((top / "PKG-INFO").read_text())
    assert info["Version"] == asynckit.__version__
    assert info["License-Expression"] == "MIT"
    assert info.get_all("License-File") == ["LICENSE"]
    assert "Programming Language :: Python :: 3 :: Only" in info.get_all("Classifier")
    urls = dict(u.split(", ", 1) for u in info.get_all("Project-URL"))
    assert {"Documentation", "Changelog", "Issues"} <= urls.keys()
    extras = info.get_all("Provides-Extra")
    assert {"dask", "progress", "docs", "dev"} <= set(extras) and "test" not in extras
    for name in ("LICENSE", "CHANGES.rst", "README.rst", "tests/conftest.py",
                 "tests/_procfuncs.py", "examples/localsite.py", "docs/graph.png",
                 "docs/conf.py", "bench/run.py"):
        assert (top / name).is_file(), name
    assert not list(top.rglob("__pycache__")) and not (top / "docs" / "_build").exists()


@pytest.mark.timeout(120)
def test_twine_check_passes(sdist: Path) -> None:
    done = run(sys.executable, "-m", "twine", "check", "--strict", str(sdist), cwd=ROOT,
               timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout, done.stdout


@pytest.mark.timeout(120)
def test_unpacked_sdist_runs_its_tests(sdist: Path, tmp_path: Path) -> None:
    top = unpack(sdist, tmp_path)
    # `python -m` puts the working directory first on sys.path: the sdist's own
    # asynckit is imported, not this checkout's.
    where = run(sys.executable, "-c", "import asynckit; print(asynckit.__file__)", cwd=top,
                timeout=30)
    assert Path(where.stdout.strip()).is_relative_to(top), where.stdout + where.stderr
    done = run(sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "tests/test_value.py", "tests/test_examples.py::test_scrape_prints_the_seed_results",
               cwd=top, timeout=100)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout
