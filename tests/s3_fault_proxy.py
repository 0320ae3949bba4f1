"""An HTTP proxy in front of the test S3 server that injects faults S3 produces in real life:
throttling (503 SlowDown), internal errors (500), denied writes (403), slow responses, CopyObject's
"200 OK" with an error in the body, and connections closed without an answer.

Requests pass through unchanged (the Host header included, so SigV4 signatures still verify
upstream). Rules match on method, a path substring and request headers, and fire a given number of
times (or for ever).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ERROR_BODIES = {
    503: ("SlowDown", "Please reduce your request rate."),
    500: ("InternalError", "We encountered an internal error. Please try again."),
    403: ("AccessDenied", "Access Denied"),
}


@dataclass
class Rule:
    matches: Callable[[str, str, dict[str, str]], bool]
    status: int = 0  # 0: forward (after `delay`)
    times: int | None = None  # None: for ever
    delay: float = 0.0
    # Forwarded, but the ETag in the response body (CopyObjectResult) is replaced.
    rewrite_etag: str = ""
    # Not forwarded: "200 OK" whose body is an InternalError (S3 answers a CopyObject that fails
    # after the response has started like this).
    ok_with_error: bool = False
    # Not forwarded: the connection is closed without an answer.
    drop: bool = False
    hits: int = field(default=0)

    def take(self) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


def is_copy(method: str, path: str, headers: dict[str, str]) -> bool:
    """CopyObject or UploadPartCopy."""
    return method == "PUT" and "x-amz-copy-source" in headers


class S3FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.rules: list[Rule] = []
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        # Headers of each request (lowercase names), in the order of `requests`.
        self.headers: list[dict[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with proxy.lock:
                    proxy.requests.append((self.command, self.path))
                    proxy.headers.append(headers)
                    rule = next(
                        (
                            r
                            for r in proxy.rules
                            if r.matches(self.command, self.path, headers) and r.take()
                        ),
                        None,
                    )
                if rule is not None and rule.delay:
                    time.sleep(rule.delay)
                if rule is not None and rule.drop:
                    self.close_connection = True
                    return
                if rule is not None and rule.ok_with_error:
                    payload = (
                        b'<?xml version="1.0" encoding="UTF-8"?>\n\n            \n'
                        b"<Error><Code>InternalError</Code><Message>We encountered an internal "
                        b"error. Please try again.</Message><RequestId>4442587FB7D0A2F9</RequestId>"
                        b"</Error>"
                    )
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if rule is not None and rule.status:
                    code, message = ERROR_BODIES[rule.status]
                    payload = (
                        '<?xml version="1.0" encoding="UTF-8"?>'
                        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
                    ).encode()
                    self.send_response(rule.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=120
                )
                try:
                    upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                    response = upstream.getresponse()
                    payload = response.read()
                    if rule is not None and rule.rewrite_etag:
                        payload = re.sub(
                            rb"<ETag>[^<]*</ETag>",
                            f"<ETag>&quot;{rule.rewrite_etag}&quot;</ETag>".encode(),
                            payload,
                        )
                    self.send_response(response.status, response.reason)
                    for name, value in response.getheaders():
                        if name.lower() not in {
                            "transfer-encoding",
                            "connection",
                            "content-length",
                        }:
                            self.send_header(name, value)
                    length = (
                        response.getheader("Content-Length") if self.command == "HEAD" else None
                    )
                    self.send_header("Content-Length", length or str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            def _handle_quietly(self) -> None:
                # The client may go away (a killed worker): nothing to answer then.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._handle()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle_quietly

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> S3FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, rule: Rule) -> Rule:
        with self.lock:
            self.rules.append(rule)
        return rule
