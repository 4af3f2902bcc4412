"""The package type-checks and lints cleanly (the tools are in the dev extra).

Users' code is checked too, under both mypy --strict and pyright's strict
mode: the scripts below are what people write with asynckit, and each
``assert_type`` pins what both checkers must infer there. pyright's
``--verifytypes`` measures how much of the package's interface is typed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Ordinary user code: decorated functions called with plain values and with
# AsyncValues, results used through get(), operators and the helpers.
USER_CODE = '''
from __future__ import annotations

from typing import assert_type

import asynckit
from asynckit import AsyncList, AsyncValue, Pool

pool = Pool(worker_count=2)


@pool.task
def add(a: int, b: int) -> int:
    return a + b


@pool.task(retries=2, retry_on=ConnectionError, limit=1, name="fetch")
def fetch(url: str) -> bytes:
    return url.encode()


@pool.task
async def label(n: int) -> str:
    return str(n)


@asynckit.task
def double(x: int) -> int:
    return 2 * x


async def halve(n: int) -> float:
    return n / 2


class Client:
    @pool.task
    def method(self, x: int) -> int:
        return x


x: AsyncValue[int] = add(1, add(2, 3))  # plain values and AsyncValues
y = add(x, 1)
plain: int = y.get() + x.get(5)
print(y + 1, x < 3, len(fetch("u")), int(x), range(x), bool(y))
text: AsyncValue[str] = label(3)
page: AsyncValue[bytes] = fetch("https://example.org")
doubled: AsyncValue[int] = double(x)
assert_type(AsyncList([double(1), double(2)]), AsyncList[int])  # not AsyncList[Never]
assert_type(pool.do(double, 1), AsyncValue[int])  # results flatten: not AsyncValue[AsyncValue]
inline: int = double.__wrapped__(3)  # documented: the function itself
bound: AsyncValue[int] = Client().method(4)
powered: AsyncValue[int] = pool.do(pow, 2, 8)
halved: AsyncValue[float] = pool.do(halve, 3)  # async def: the coroutine's result
mapped: AsyncList[int] = pool.map(abs, [1, -2], timeout=5)
total: int = sum(mapped)
result: int = pool.submit(abs, -1).result()
also: int = asynckit.future(x).result()
for value in asynckit.as_completed([x, y], timeout=5):
    print(value.get(), asynckit.state(value), asynckit.exception(value))
print(asynckit.unwrap([x]), asynckit.to_dot(x), asynckit.cancel(y))
pool.do(print, x).chain(print, "bye").wait()
with pool:
    pool.wait(progress=False)
asynckit.wait()
'''


SCRAPER = '''
"""A polite scraper: @pool.task with options, AsyncList, results passed on."""

from __future__ import annotations

from typing import assert_type
from urllib.request import urlopen

from asynckit import AsyncList, AsyncValue, Pool

pool = Pool(worker_count=3)


@pool.task(limit=2, retries=1, retry_on=(ConnectionError, TimeoutError), retry_delay=0.5)
def download(url: str) -> bytes:
    with urlopen(url, timeout=10) as response:
        body: bytes = response.read()
    return body


@pool.task
def total(pages: list[bytes]) -> int:
    return sum(len(page) for page in pages)


urls = [f"http://127.0.0.1:8000/{n}" for n in range(5)]
pages = [download(url) for url in urls]
assert_type(pages, list[AsyncValue[bytes]])
everything = AsyncList(pages)
assert_type(everything, AsyncList[bytes])
assert_type(everything.get(timeout=30), list[bytes])
sizes = AsyncList([pool.do(len, page) for page in pages])
assert_type(sizes, AsyncList[int])
count = total(pages)  # a list of AsyncValues is a dependency
assert_type(count, AsyncValue[int])
assert_type(count.get(), int)
assert_type(pool.do(total, everything), AsyncValue[int])  # results flatten
assert_type(pool.do(download, urls[0]), AsyncValue[bytes])
assert_type(download.__wrapped__("u"), bytes)
for page in everything:
    assert_type(page, bytes)
print(count + 1, len(everything), sum(sizes.get()))
assert_type(pool.do(print, count).chain(print, "bye"), AsyncValue[None])
pool.wait()
'''

MAPPING = '''
"""pool.map (an iterator and an AsyncList), as_completed, futures and helpers."""

from __future__ import annotations

import concurrent.futures
import contextlib
from typing import assert_type

import asynckit
from asynckit import AsyncList, AsyncValue, Pool
from asynckit.asynclist import MapIterator, MapResult


def square(n: int) -> int:
    return n * n


def slow(seconds: float) -> float:
    return seconds


with Pool(worker_count=4) as pool:
    squares = pool.map(square, range(10), timeout=30)
    assert_type(squares, MapResult[int])
    assert_type(next(squares), int)
    for item in squares:
        assert_type(item, int)
    assert_type(squares.get(), list[int])
    as_value: AsyncList[int] = squares  # also an AsyncList value
    print(len(as_value), sum(pool.map(square, [-1, -2])))
    streamed = pool.map(square, range(1_000), buffersize=50)
    assert_type(streamed, MapIterator[int])
    assert_type(list(streamed), list[int])
    with contextlib.closing(pool.map(square, range(5))) as first_ones:
        assert_type(first_ones, MapResult[int])
    waits = [pool.do(slow, s) for s in (0.2, 0.1)]
    for done in asynckit.as_completed(waits, timeout=30):
        assert_type(done, AsyncValue[float])
        assert_type(done.get(), float)
        assert_type(asynckit.exception(done), BaseException | None)
        assert_type(asynckit.state(done), str)
    assert_type(pool.submit(square, 3), concurrent.futures.Future[int])
    assert_type(asynckit.future(waits[0]), concurrent.futures.Future[float])
    assert_type(asynckit.cancel(waits[1]), bool)
    assert_type(pool.wait(timeout=10), bool)
'''

COROUTINES = '''
"""async def tasks on the pool's event loop, awaited from asyncio.run."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, assert_type

from asynckit import AsyncList, AsyncValue, Pool

pool = Pool()


@pool.task(limit=100)
async def fetch(n: int) -> str:
    await asyncio.sleep(0.01)
    return str(n)


async def plain(n: int) -> bytes:
    return bytes(n)


async def main() -> list[str]:
    values = [fetch(n) for n in range(10)]
    assert_type(values[0], AsyncValue[str])
    first = await values[0]  # waits without blocking this loop
    assert_type(first, str)
    everything = await AsyncList(values)
    assert_type(everything, list[str])
    assert_type(await pool.do(plain, 3), bytes)
    # The function itself, run here: a coroutine.
    inline = assert_type(fetch.__wrapped__(1), Coroutine[Any, Any, str])
    assert_type(await inline, str)
    return everything


result = asyncio.run(main())
assert_type(result, list[str])
pool.shutdown()
'''

DEFAULT_POOL = '''
"""The smallest scripts: the default pool (asynckit.task, asynckit.do, asynckit.wait)."""

from __future__ import annotations

from typing import Any, assert_type

import asynckit
from asynckit import AsyncValue


@asynckit.task
def double(x: int) -> int:
    return 2 * x


@asynckit.task(retries=2, retry_on=OSError)
def read(path: str) -> str:
    with open(path) as file:
        return file.read()


@asynckit.task
def add(a: int, b: int) -> int:
    return a + b


assert_type(double(2), AsyncValue[int])
assert_type(add(double(1), double(2)), AsyncValue[int])  # AsyncValues as arguments
assert_type(read("setup.cfg"), AsyncValue[str])
assert_type(asynckit.do(double, 2), AsyncValue[int])  # results flatten
assert_type(asynckit.do(len, "abc"), AsyncValue[int])
assert_type(double.__wrapped__(3), int)  # the function itself, run inline
assert_type(asynckit.unwrap([double(4)]), Any)  # plain, but untyped
total = add(1, 2).get() + 1
assert_type(total, int)
assert_type(asynckit.wait(timeout=10), bool)
'''

METHODS = '''
"""@pool.task on methods and staticmethods."""

from __future__ import annotations

from typing import assert_type

from asynckit import AsyncValue, Pool

pool = Pool(worker_count=2)


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    @pool.task
    def get(self, path: str) -> bytes:
        return (self.base + path).encode()

    @pool.task
    @staticmethod
    def parse(text: bytes) -> int:
        return len(text)


client = Client("https://example.org")
page = client.get("/")
assert_type(page, AsyncValue[bytes])
assert_type(Client.parse(page), AsyncValue[int])
assert_type(client.parse(b"x").get(), int)
assert_type(Client.get.__wrapped__(client, "/"), bytes)
pool.wait()
'''

SCRIPTS = {"user_code.py": USER_CODE, "scraper.py": SCRAPER, "mapping.py": MAPPING,
           "coroutines.py": COROUTINES, "default_pool.py": DEFAULT_POOL, "methods.py": METHODS}

#: The least share of the package's exported symbols whose type pyright knows.
VERIFYTYPES_MINIMUM = 0.9


def run(*command: str, cwd: Path = ROOT,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=170,
                          env=env)


def write_scripts(folder: Path) -> list[str]:
    for name, text in SCRIPTS.items():
        (folder / name).write_text(textwrap.dedent(text))
    return [str(folder / name) for name in SCRIPTS]


@pytest.mark.timeout(180)
def test_mypy_strict(tmp_path: Path) -> None:
    scripts = write_scripts(tmp_path)
    done = run(sys.executable, "-m", "mypy", "--strict", "asynckit", "examples", *scripts)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def pyright() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``pyright(*args, cwd=...)``: the pyright of the dev extra, seeing this checkout.

    The pip package runs pyright's bundled JavaScript on Node.js (the
    machine's ``node``); without one it would download Node, so a machine
    where pyright cannot start skips these tests, saying why.
    """
    # PYTHONPATH: pyright finds packages on the interpreter's sys.path, and
    # cannot follow the import hook of an editable install.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}

    def pyright(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        return run(sys.executable, "-m", "pyright", "--pythonpath", sys.executable, *args,
                   cwd=cwd, env=env)

    try:
        version = pyright("--version")
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"pyright cannot start here: {error}")
    if version.returncode != 0 or not version.stdout.startswith("pyright "):
        pytest.skip(f"pyright cannot start here (is it installed, with Node.js on PATH?): "
                    f"{(version.stdout + version.stderr).strip()[-300:]}")
    return pyright


@pytest.mark.timeout(180)
def test_pyright_strict(pyright: Callable[..., subprocess.CompletedProcess[str]],
                        tmp_path: Path) -> None:
    write_scripts(tmp_path)
    (tmp_path / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "strict"}))
    done = pyright("--project", str(tmp_path), "--outputjson", cwd=tmp_path)
    report = json.loads(done.stdout)
    problems = [f"{Path(d['file']).name}:{d['range']['start']['line'] + 1}: {d['message']}"
                for d in report["generalDiagnostics"]]
    assert not problems, "\n".join(problems)
    assert report["summary"]["filesAnalyzed"] == len(SCRIPTS), report["summary"]


@pytest.mark.timeout(180)
def test_pyright_verifytypes(pyright: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    done = pyright("--verifytypes", "asynckit", "--ignoreexternal", "--outputjson")
    report = json.loads(done.stdout)["typeCompleteness"]
    assert report["packageRootDirectory"] == str(ROOT / "asynckit"), report
    untyped = [symbol["name"] for symbol in report["symbols"]
               if symbol["isExported"] and not symbol["isTypeKnown"]]
    assert report["completenessScore"] >= VERIFYTYPES_MINIMUM, untyped


@pytest.mark.timeout(60)
def test_ruff() -> None:
    done = run(sys.executable, "-m", "ruff", "check", "asynckit", "tests", "examples", "bench")
    assert done.returncode == 0, done.stdout + done.stderr
