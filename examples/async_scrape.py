"""Scrape a local web server with 200 concurrent requests from async def tasks.

Run it with ``python examples/async_scrape.py``: it starts its own
``http.server`` on 127.0.0.1, so it needs no network. The requests use only the
standard library (``asyncio.open_connection``), so asynckit keeps wrapt as its
only dependency; with aiohttp or httpx the tasks would look the same.

The fetches are coroutines on the pool's event loop: 200 requests in flight
at once on one thread. Counting words is plain CPU work, so it is an ordinary
threaded task, fed directly by the coroutines' AsyncValues.
"""

from __future__ import annotations

import asyncio
import threading

from localsite import serve

from asynckit import AsyncList, Pool

PAGES = 200


pool = Pool(worker_count=4)
in_flight = 0
peak = 0


@pool.task(retries=2, retry_delay=0.05, retry_on=OSError)
async def fetch(host: str, port: int, path: str) -> bytes:
    """GET one page over HTTP/1.0 with asyncio streams; the body, or raise."""
    global in_flight, peak
    in_flight += 1
    peak = max(peak, in_flight)
    try:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            response = await reader.read()  # HTTP/1.0: the server closes when done
        finally:
            writer.close()
            await writer.wait_closed()
    finally:
        in_flight -= 1
    head, _, body = response.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise OSError(f"GET {path}: HTTP {status.decode()}")
    return body


@pool.task
def count_words(page: bytes) -> int:
    """CPU work on a worker thread; receives the plain bytes, not a proxy."""
    return len(page.split())


def main() -> None:
    with serve() as server:
        host, port = server.server_address[:2]
        scrape(str(host), port)


def scrape(host: str, port: int) -> None:
    pages = [fetch(host, port, f"/{n}") for n in range(PAGES)]   # all start at once
    words: AsyncList[int] = AsyncList([count_words(page) for page in pages])
    failed = sum(page.is_error() for page in pages if page.wait())
    ok = [page for page in pages if not page.is_error()]
    print(f"fetched {len(ok)} pages ({sum(len(p) for p in ok)} bytes, {sum(words)} words), "
          f"{failed} failed")
    print(f"at most {peak} requests in flight at once, "
          f"on {threading.active_count()} threads in this process")
    pool.shutdown()


if __name__ == "__main__":
    main()
