"""Run the installed `data-sharing-tool` console script as a subprocess.

`live_cli` points it at pytest-django's live server (the real app on a real port, test database)
with a curator's token. `scripted_server` is a small HTTP server answering scripted responses,
for what the real server cannot be made to do on demand (a 502 page, a job that fails mid-wait).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from datasharing.tokens import api_token_create

CLI = Path(sys.executable).parent / "data-sharing-tool"
ROLE_GROUPS = ("viewer", "curator", "admin")


def run_cli(
    *args: str,
    env: dict[str, str],
    timeout: float = 180,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The test process's environment without any CLI configuration or browser."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DATA_SHARING_") and key != "BROWSER"
    }
    env["HOME"] = str(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "home" / ".config")
    env["DATA_SHARING_POLL_SECONDS"] = "0.2"
    return env


def api_token(username: str, *groups: str) -> str:
    """A user in `groups` and their token. Role groups are re-created: a transactional test
    before this one truncated the tables the migration had filled."""
    user, _ = User.objects.get_or_create(username=username)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return api_token_create(user=user)[1]


@pytest.fixture
def curator_token(transactional_db: Any) -> str:
    return api_token("cli-curator", "curator")


@pytest.fixture
def viewer_token(transactional_db: Any) -> str:
    return api_token("cli-viewer", "viewer")


@pytest.fixture
def live_env(live_server: Any, cli_env: dict[str, str], curator_token: str) -> dict[str, str]:
    return {**cli_env, "DATA_SHARING_URL": live_server.url, "DATA_SHARING_TOKEN": curator_token}


@pytest.fixture
def live_cli(live_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env={**live_env, **kwargs.pop("env", {})}, **kwargs)

    return run


# --- a scripted HTTP server ----------------------------------------------------------------------


@dataclass
class ScriptedResponse:
    status: int
    body: Any = None
    content_type: str = "application/json"


@dataclass
class ScriptedServer:
    url: str
    routes: dict[tuple[str, str], list[ScriptedResponse]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def script(self, method: str, path: str, *responses: ScriptedResponse) -> None:
        """Answer `method path` with `responses` in turn; the last one repeats."""
        self.routes[(method, path)] = list(responses)

    def next_response(self, method: str, path: str) -> ScriptedResponse:
        queue = self.routes.get((method, path))
        if not queue:
            return ScriptedResponse(404, {"message": f"No such endpoint: {path}"})
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    state: dict[str, ScriptedServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            server = state["server"]
            path = self.path.split("?", 1)[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.requests.append(
                {
                    "method": self.command,
                    "path": path,
                    "query": self.path.partition("?")[2],
                    "headers": dict(self.headers),
                    "body": json.loads(body) if body else None,
                }
            )
            response = server.next_response(self.command, path)
            payload = (
                response.body.encode()
                if isinstance(response.body, str) and response.content_type != "application/json"
                else json.dumps(response.body).encode()
            )
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["server"] = ScriptedServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()
