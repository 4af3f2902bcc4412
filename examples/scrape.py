"""Scrape a local web server with asynckit: the seed examples, then the decorator form.

Run it with ``make example`` (or ``python examples/scrape.py``): it starts its
own ``http.server`` on 127.0.0.1, so it needs no network.
"""

from __future__ import annotations

from urllib.request import urlopen

from localsite import serve

from asynckit import AsyncList, Pool


def main() -> None:
    with serve() as server:
        scrape(server.base)


def scrape(base: str) -> None:
    urls = [f"{base}/{n}" for n in range(12)]

    pool = Pool(worker_count=3)

    # The seed examples.
    results = [pool.do(lambda x: urlopen(x).read(), url) for url in urls]
    print([len(result.get(True)) for result in results])

    result: AsyncList[int] = AsyncList([pool.do(lambda x: len(urlopen(x).read()), url) for url in urls])
    print(sum(result.get(True)))

    def heavy_work(a: int, b: int) -> int:
        return a + b

    nested_call = pool.do(heavy_work, 1, pool.do(heavy_work, 2, pool.do(heavy_work, 1, 3)))
    pool.do(print, nested_call).chain(print, "bye").wait()  # prints 7, then bye

    # The decorator form.
    @pool.task
    def download(url: str) -> bytes:
        with urlopen(url) as response:
            return response.read()  # type: ignore[no-any-return]

    @pool.task
    def total(pages: list[bytes]) -> int:
        return sum(len(page) for page in pages)

    pages = [download(u) for u in urls]  # all start at once
    t = total(pages)  # waits for every page
    print(t + 1)  # using the value blocks until it is ready
    pool.wait()  # every task has settled


if __name__ == "__main__":
    main()
