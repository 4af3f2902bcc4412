"""The package type-checks and lints cleanly (the tools are in the dev extra)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Ordinary user code, checked with mypy --strict together with the package:
# decorated functions called with plain values and with AsyncValues, results
# used through get(), operators and the helpers.
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


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=170)


@pytest.mark.timeout(180)
def test_mypy_strict(tmp_path: Path) -> None:
    user_code = tmp_path / "user_code.py"
    user_code.write_text(textwrap.dedent(USER_CODE))
    done = run(sys.executable, "-m", "mypy", "--strict", "asynckit", "examples", str(user_code))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.timeout(60)
def test_ruff() -> None:
    done = run(sys.executable, "-m", "ruff", "check", "asynckit", "tests", "examples", "bench")
    assert done.returncode == 0, done.stdout + done.stderr
