"""Time limits and rates on a real scrape: a local ``http.server`` on 127.0.0.1.

Run ``python -m bench.scrape_bench`` (``--quick`` for a shorter run);
``rows(quick)`` gives the rows to ``python -m bench``.

- **hanging scrape**: ``N`` GETs of a page that answers after ``DELAY`` on
  ``WORKERS`` threads; in one run every 50th URL hangs (the server answers it
  only after ``HANG`` s, as a stalled upstream does) and the fetch function
  has ``@pool.task(timeout=TIMEOUT)``. Each call that times out fails with
  TimeoutError and its thread's place is lent to a new worker, so the rest
  of the scrape goes on at full width. The row compares the wall time of the
  scrape with hanging requests to the same scrape with none (target: a
  throughput of at least 0.9x, so a time ratio of at most 1/0.9). For scale,
  the CLI also times ThreadPoolExecutor on the hanging scrape: it has no
  time limit, so every hung request holds a worker for ``HANG`` s. What a
  time limit cannot save: each hung call holds its worker until its
  deadline, a loss of about ``TIMEOUT / (EVERY * DELAY)`` of the throughput
  (5 % here), plus the last hang's deadline at the end of the run.
- **rate**: ``@pool.task(rate="50/s")`` over ``RATE_SECONDS`` (burst 1): the
  start times of the calls give the achieved rate (calls after the first
  over the time since the first), which should be at least 0.95x of 50/s,
  and the most starts seen in any one-second window, which must not exceed
  50 + burst (the bucket starts full).

The two scrapes alternate (hanging, plain, hanging, ...), several repeats,
medians and ranges.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asynckit  # noqa: E402
from bench.table import machine, print_table, row  # noqa: E402

WORKERS = 16
DELAY = 0.1    # every page takes this long to answer
HANG = 2.0     # a hanging page answers after this long
TIMEOUT = 0.25  # the fetch's time limit
EVERY = 50     # one URL in EVERY hangs
RATE = 50
BURST = 1


class _Handler(BaseHTTPRequestHandler):
    stop: threading.Event  # set on the server's class copy

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.stop.wait(HANG if self.path.startswith("/hang/") else DELAY)
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # listen()'s backlog, read at construction: with the default of 5, a burst
    # of connections overflows it and a dropped SYN is retried after 1 s.
    request_queue_size = 128


class Server:
    """A threaded HTTP server on a free loopback port, until ``close``."""

    def __init__(self) -> None:
        stop = threading.Event()
        handler = type("Handler", (_Handler,), {"stop": stop})
        self.stop = stop
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def urls(self, count: int, hanging: bool) -> list[str]:
        return [f"{self.base}/{'hang' if hanging and i % EVERY == EVERY // 2 else 'page'}/{i}"
                for i in range(count)]

    def close(self) -> None:
        self.stop.set()  # hanging handlers answer at once
        self.httpd.shutdown()
        self.httpd.server_close()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:
        body: bytes = response.read()
        return body


def scrape(urls: list[str]) -> tuple[float, int, int]:
    """Wall seconds, pages fetched and calls timed out, on a fresh pool (started warm)."""
    pool = asynckit.Pool(worker_count=WORKERS, name="bench-scrape")
    get = pool.task(timeout=TIMEOUT)(fetch)
    pool.map(abs, range(WORKERS)).get()  # threads up before the clock starts
    began = time.perf_counter()
    values = [get(url) for url in urls]
    fetched = timed_out = 0
    for value in values:
        try:
            value.get()
            fetched += 1
        except TimeoutError:
            timed_out += 1
    took = time.perf_counter() - began
    pool.shutdown(wait=False)  # threads still stuck in a hung fetch end with it
    return took, fetched, timed_out


def scrape_tpe(urls: list[str]) -> float:
    with ThreadPoolExecutor(WORKERS) as tpe:
        list(tpe.map(abs, range(WORKERS)))
        began = time.perf_counter()
        list(tpe.map(fetch, urls))
        return time.perf_counter() - began


def rate_run(seconds: float) -> tuple[float, int]:
    """Achieved calls per second and the most starts in any one-second window."""
    pool = asynckit.Pool(worker_count=4, name="bench-rate")
    starts: list[float] = []

    @pool.task(rate=f"{RATE}/s", burst=BURST)
    def call(i: int) -> int:
        starts.append(time.monotonic())
        return i

    count = int(RATE * seconds)
    asynckit.AsyncList([call(i) for i in range(count)]).get()
    pool.shutdown()
    starts.sort()
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    most = max(bisect.bisect_left(starts, t + 1.0) - i for i, t in enumerate(starts))
    return achieved, most


def rows(quick: bool, with_tpe: bool = False) -> list[dict[str, Any]]:
    """The rows of ``python -m bench`` (shape: bench/async_bench.py ``_row``)."""
    count = 800 if quick else 1_600
    repeats = 1 if quick else 3
    server = Server()
    try:
        hanging, plain, tpe = [], [], []
        hang_urls, plain_urls = server.urls(count, True), server.urls(count, False)
        for _ in range(repeats):
            took, fetched, timed_out = scrape(hang_urls)
            expected_out = sum("/hang/" in url for url in hang_urls)
            if (fetched, timed_out) != (count - expected_out, expected_out):
                raise AssertionError(f"hanging scrape: {fetched} fetched, {timed_out} timed "
                                     f"out; expected {count - expected_out}, {expected_out}")
            hanging.append(took)
            took, fetched, _ = scrape(plain_urls)
            if fetched != count:
                raise AssertionError(f"plain scrape fetched {fetched} of {count}")
            plain.append(took)
            if with_tpe:
                tpe.append(scrape_tpe(hang_urls))
    finally:
        server.close()
    result = [row(f"scrape {count} pages, 1 in {EVERY} hangs, timeout={TIMEOUT:g}",
                   hanging, plain, "no hangs", "s", round(1 / 0.9, 3))]
    if with_tpe:
        result.append(row("  (TPE on the same hanging scrape)", tpe, plain, "no hangs", "s",
                           None))
    seconds = 2.0 if quick else 10.0
    achieved, most = rate_run(seconds)
    # As time per call, so that the ratio reads as everywhere: <= target is good.
    result.append(row(f"rate={RATE}/s over {seconds:g} s: time between starts",
                       [1 / achieved], [1 / RATE], f"1/{RATE} s", "ms", round(1 / 0.95, 3), 1e3))
    result.append(row("rate: most starts in any 1 s window", [most], [RATE + BURST],
                       "rate + burst", "calls", 1.0))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run")
    options = parser.parse_args()
    print_table([("scrape", rows(options.quick, with_tpe=True))], machine())


if __name__ == "__main__":
    main()
