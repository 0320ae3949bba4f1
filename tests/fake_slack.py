"""A fake Slack Web API: a real HTTP server on 127.0.0.1 answering the methods we call the way
api.slack.com documents them.

- `POST /api/chat.postMessage`, `/api/chat.update`, `/api/chat.postEphemeral`, with a JSON body
  (`application/json`) or a form body (`application/x-www-form-urlencoded`, `blocks` as a JSON
  string), authenticated by `Authorization: Bearer <token>` or a `token` field.
- Answers: HTTP 200 `{"ok": true, "channel", "ts", "message"}` (postMessage, update),
  `{"ok": true, "message_ts"}` (postEphemeral); HTTP 200 `{"ok": false, "error": ...}` with
  `not_authed`, `invalid_auth`, `channel_not_found`, `message_not_found`, `no_text`,
  `invalid_blocks`; HTTP 429 with `Retry-After` when a rate limit is injected.

Every request is recorded (`calls`); faults can be injected per method (`fail`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class SlackCall:
    method: str
    body: dict[str, Any]
    authorization: str


@dataclass
class SlackFault:
    method: str
    times: int
    status: int = 200
    error: str = ""
    retry_after: int | str | None = None
    hits: int = 0


@dataclass
class PostedMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    updates: int = 0


FAKE_BOT_TOKEN = "xoxb-fake-bot-token"


class FakeSlack:
    def __init__(self, *, token: str = FAKE_BOT_TOKEN, channels: tuple[str, ...] = ()) -> None:
        self.token = token
        self.channels = set(channels or ("C0APPROVALS",))
        self.calls: list[SlackCall] = []
        self.messages: dict[tuple[str, str], PostedMessage] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.faults: list[SlackFault] = []
        self.lock = threading.Lock()
        self._ts_counter = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                method = self.path.rsplit("/", 1)[-1]
                status, headers, answer = fake.handle(
                    method, raw, self.headers.get("Content-Type", ""), self.headers
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- Control (tests) -----------------------------------------------------------------------

    def start(self) -> FakeSlack:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(
        self,
        method: str,
        *,
        times: int = 1,
        status: int = 200,
        error: str = "",
        retry_after: int | str | None = None,
    ) -> SlackFault:
        """The next `times` calls of `method` answer HTTP `status` (429 adds `Retry-After`) or,
        with `error`, HTTP 200 `{"ok": false, "error": error}`."""
        fault = SlackFault(method, times, status, error, retry_after)
        with self.lock:
            self.faults.append(fault)
        return fault

    def calls_of(self, method: str) -> list[SlackCall]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    # --- Web API -------------------------------------------------------------------------------

    def handle(
        self, method: str, raw: bytes, content_type: str, headers: Any
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        body = self._parse(raw, content_type)
        if body is None:
            return 200, {}, {"ok": False, "error": "invalid_form_data"}
        authorization = headers.get("Authorization", "")
        with self.lock:
            self.calls.append(SlackCall(method, body, authorization))
            fault = next((f for f in self.faults if f.method == method and f.hits < f.times), None)
            if fault is not None:
                fault.hits += 1
        if fault is not None:
            if fault.error:
                return 200, {}, {"ok": False, "error": fault.error}
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return fault.status, extra, {"ok": False, "error": "ratelimited"}
        token = authorization.removeprefix("Bearer ").strip() or str(body.get("token", ""))
        if not token:
            return 200, {}, {"ok": False, "error": "not_authed"}
        if token != self.token:
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        route = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
        }.get(method)
        if route is None:
            return 404, {}, {"ok": False, "error": "unknown_method"}
        return 200, {}, route(body)

    @staticmethod
    def _parse(raw: bytes, content_type: str) -> dict[str, Any] | None:
        try:
            if content_type.startswith("application/json"):
                parsed = json.loads(raw or b"{}")
                return parsed if isinstance(parsed, dict) else None
            form: dict[str, Any] = dict(parse_qsl(raw.decode(), keep_blank_values=True))
            if "blocks" in form:
                form["blocks"] = json.loads(form["blocks"])
            return form
        except ValueError:
            return None

    def _content_error(self, body: dict[str, Any]) -> str:
        if body.get("channel") not in self.channels:
            return "channel_not_found"
        blocks = body.get("blocks")
        if blocks is not None and not isinstance(blocks, list):
            return "invalid_blocks"
        if not body.get("text") and not blocks:
            return "no_text"
        return ""

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        error = self._content_error(body)
        if error:
            return {"ok": False, "error": error}
        ts = f"{int(time.time())}.{next(self._ts_counter):06d}"
        message = PostedMessage(body["channel"], ts, body.get("text", ""), body.get("blocks") or [])
        with self.lock:
            self.messages[(message.channel, ts)] = message
        return {"ok": True, "channel": message.channel, "ts": ts, "message": self._shape(message)}

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        error = self._content_error(body)
        if error:
            return {"ok": False, "error": error}
        with self.lock:
            message = self.messages.get((body["channel"], str(body.get("ts", ""))))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.text = body.get("text", "")
            message.blocks = body.get("blocks") or []
            message.updates += 1
        return {
            "ok": True,
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": self._shape(message),
        }

    def _post_ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("channel") not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        with self.lock:
            self.ephemeral.append(body)
        return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts_counter):06d}"}

    @staticmethod
    def _shape(message: PostedMessage) -> dict[str, Any]:
        return {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B0FAKEBOT",
            "text": message.text,
            "blocks": message.blocks,
            "ts": message.ts,
        }
