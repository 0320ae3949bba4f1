"""datasharing.seaweed's readiness probe (`wait_http`), used by `make run` for the web server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from datasharing.seaweed import free_port, wait_http


class _Unhealthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def unhealthy_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unhealthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_answers_with_an_error_status_is_up(unhealthy_server: str) -> None:
    assert wait_http(unhealthy_server, timeout=10) is True


def test_nothing_listening_is_not_up_once_the_timeout_has_passed() -> None:
    assert wait_http(f"http://127.0.0.1:{free_port()}/healthz", timeout=0.5) is False
