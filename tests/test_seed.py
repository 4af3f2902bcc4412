"""The seed examples of API.md section 1, as written, against a local http.server."""

from __future__ import annotations

import http.server
import threading
from urllib.request import urlopen

import pytest

from asynckit import AsyncList, AsyncValue, Pool

PAGES = 8


def _size(path: str) -> int:
    return 100 * (int(path.strip("/")) + 1)


class _Pages(http.server.BaseHTTPRequestHandler):
    """Page /n is 100 * (n + 1) bytes long; /slow/n waits for the test's gate first."""

    gate: threading.Event | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path
        if path.startswith("/slow/"):
            assert self.gate is not None and self.gate.wait(30)
            path = path[len("/slow"):]
        body = b"x" * _size(path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_server():
    handler = type("Handler", (_Pages,), {"gate": threading.Event()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    handler.gate.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


@pytest.fixture
def server(http_server):
    """The module's server, with a fresh gate for /slow/ pages (opened at teardown)."""
    gate = threading.Event()
    http_server.RequestHandlerClass.gate = gate
    http_server.gate = gate
    yield http_server
    gate.set()


@pytest.fixture
def urls(server):
    return [f"http://127.0.0.1:{server.server_address[1]}/{n}" for n in range(PAGES)]


@pytest.fixture
def pool(server):
    p = Pool(worker_count=3)
    yield p
    server.gate.set()
    p.shutdown(cancel_futures=True)


EXPECTED = [100 * (n + 1) for n in range(PAGES)]


def test_seed_list_of_results(pool, urls):
    results = [pool.do(lambda x: urlopen(x).read(), url) for url in urls]
    assert all(isinstance(result, AsyncValue) for result in results)
    sizes = [len(result.get(True)) for result in results]
    assert sizes == EXPECTED
    assert all(type(result.get(True)) is bytes for result in results)


def test_seed_async_list_sum(pool, urls):
    result = AsyncList([pool.do(lambda x: len(urlopen(x).read()), url) for url in urls])
    assert sum(result.get(True)) == sum(EXPECTED)
    assert len(result) == PAGES


def test_seed_nested_call_prints_7_then_bye(pool, capsys):
    def heavy_work(a, b):
        return a + b

    nested_call = pool.do(heavy_work, 1, pool.do(heavy_work, 2, pool.do(heavy_work, 1, 3)))
    assert pool.do(print, nested_call).chain(print, "bye").wait() is True
    assert capsys.readouterr().out == "7\nbye\n"
    assert nested_call == 7


def test_seed_decorator_form(pool, urls, capsys):
    @pool.task
    def download(url):
        return urlopen(url).read()

    @pool.task
    def total(pages):
        return sum(len(p) for p in pages)

    pages = [download(u) for u in urls]
    t = total(pages)
    print(t + 1)
    assert pool.wait() is True
    assert capsys.readouterr().out == f"{sum(EXPECTED) + 1}\n"
    assert all(page.is_set() for page in pages)
    assert t == sum(EXPECTED)


@pytest.mark.timeout(30)
def test_seed_decorator_downloads_start_at_once_and_total_waits(server, urls):
    """The three downloads run together (the server holds them all), and the
    total does not start before every page is in."""
    base = f"http://127.0.0.1:{server.server_address[1]}"
    slow = [f"{base}/slow/{n}" for n in range(3)]
    arrived = threading.Semaphore(0)
    started_total = threading.Event()
    pool = Pool(worker_count=3)
    try:
        @pool.task
        def download(url):
            arrived.release()
            return urlopen(url).read()

        @pool.task
        def total(pages):
            started_total.set()
            return sum(len(p) for p in pages)

        pages = [download(u) for u in slow]
        t = total(pages)
        for _ in range(3):  # all three are in flight at once
            assert arrived.acquire(timeout=20)
        assert not started_total.wait(0.05)
        server.gate.set()
        assert t + 1 == 100 + 200 + 300 + 1
        assert pool.wait() is True
    finally:
        server.gate.set()
        pool.shutdown()


def test_seed_failed_download_surfaces_on_use(pool, server):
    from urllib.error import URLError

    bad = pool.do(lambda x: urlopen(x).read(), "http://127.0.0.1:1/nothing-listens-here")
    with pytest.raises(URLError):
        bad.get(True)
