"""A small web site on 127.0.0.1 that the examples scrape: they need no network."""

from __future__ import annotations

import http.server
import threading


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = (f"<p>page {self.path} of the local site</p>\n" * 10).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Site(http.server.ThreadingHTTPServer):
    request_queue_size = 512  # the default listen backlog (5) would refuse a burst
    daemon_threads = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __exit__(self, *exc_info: object) -> None:
        # socketserver's own __exit__ only closes the listening socket: stop
        # serve_forever() first, then close (no ResourceWarning under -X dev).
        self.shutdown()
        self.server_close()


def serve() -> Site:
    """Start the site in a background thread; ``with serve() as site:`` stops and closes it."""
    site = Site(("127.0.0.1", 0), _Pages)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site
