"""`make run` for real: `python -m datasharing.local_stack` as a subprocess, in its own state dir.

It must come up on embedded defaults only (SQLite, filesystem broker, its own SeaweedFS), serve the
demo catalog with the token it prints, build a package with its embedded worker, stop every
process it started on Ctrl-C, and start again on the same state without seeding anything twice.
It restarts a worker that was killed or stopped executing tasks, and the stack keeps working.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from datasharing.seaweed import free_port, port_is_free
from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.make_run

# What the test session sets for itself (tests/services.py) and must not reach the local stack:
# it has to run on its embedded defaults, not on the suite's Postgres, Redis and S3.
LEAKY_PREFIXES = (
    "DATABASE_",
    "CELERY_",
    "AWS_",
    "REDIS_",
    "TEST_",
    "EVENT",
    "LOCAL_ENV_FILE",
    "DEPLOYMENT",
    "VAR_DIR",
    "SECRET_KEY",
    "PUBLIC_BASE_URL",
    "DJANGO_SETTINGS_MODULE",
)
STARTUP_TIMEOUT = 300


def embedded_env(var_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(LEAKY_PREFIXES)}
    env = {key: value for key, value in env.items() if not key.startswith("WORKER_")}
    env["VAR_DIR"] = str(var_dir)
    env["PORT"] = str(free_port())
    env["S3_PORT"] = str(s3_port())
    return env


def s3_port() -> int:
    """A free port whose SeaweedFS gRPC companion (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 < 65535 and port_is_free(port + 10000):
            return port


# --- Processes, read from /proc -----------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(state, parent pid, start time) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), fields[19]


@dataclass(frozen=True)
class Started:
    """A process as first seen: its start time tells it apart from a later one with its pid."""

    start_time: str
    command: str


def descendants(root: int) -> dict[int, Started]:
    """Every process below `root` (children, grandchildren ...), by pid."""
    parents: dict[int, int] = {}
    start_times: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                parents[int(entry.name)] = stat[1]
                start_times[int(entry.name)] = stat[2]
    found: dict[int, Started] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = Started(start_times[pid], command_line(pid))
                frontier.append(pid)
    return found


def is_running(pid: int, started: Started) -> bool:
    """The same process (not a reused pid) still exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[2] == started.start_time and stat[0] != "Z"


def command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


# --- The stack --------------------------------------------------------------------------------


@dataclass
class LocalStack:
    process: subprocess.Popen[str]
    var_dir: Path
    base_url: str
    s3_port: int
    output: list[str] = field(default_factory=list)
    # Processes it had started, recorded when it is asked to stop.
    started: dict[int, Started] = field(default_factory=dict)

    def text(self) -> str:
        return "".join(self.output)

    def diagnostics(self) -> str:
        logs = []
        for log in sorted((self.var_dir / "logs").glob("*.log")):
            logs.append(f"--- {log.name} (tail)\n{log.read_text(errors='replace')[-3000:]}")
        return f"--- make run output\n{self.text()}\n" + "\n".join(logs)

    def banner_value(self, label: str) -> str:
        match = re.search(rf"{label}\s+(\S+)", self.text())
        assert match, f"{label!r} missing from the banner:\n{self.text()}"
        return match.group(1)

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


def start_stack(var_dir: Path, extra_env: dict[str, str] | None = None) -> LocalStack:
    env = embedded_env(var_dir) | (extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "datasharing.local_stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stack = LocalStack(
        process, var_dir, f"http://127.0.0.1:{env['PORT']}", s3_port=int(env["S3_PORT"])
    )
    assert process.stdout is not None
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            stack.output.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return stack


def wait_for_banner(stack: LocalStack) -> None:
    def banner_or_exit() -> bool:
        if stack.process.poll() is not None:
            pytest.fail(f"make run exited with {stack.process.returncode}:\n{stack.diagnostics()}")
        return "Press Ctrl-C to stop everything." in stack.text()

    wait_for(banner_or_exit, timeout=STARTUP_TIMEOUT, interval=0.5, message="no banner")


def stop_with_ctrl_c(stack: LocalStack) -> dict[int, Started]:
    """SIGINT (what Ctrl-C sends) and wait for the exit; returns the processes it had started."""
    stack.started = descendants(stack.process.pid)
    stack.process.send_signal(signal.SIGINT)
    try:
        stack.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"make run did not exit after SIGINT:\n{stack.diagnostics()}")
    return stack.started


@contextlib.contextmanager
def running(var_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[LocalStack]:
    """The stack up (banner printed); whatever happens, nothing it started outlives the test."""
    stack = start_stack(var_dir, extra_env)
    try:
        wait_for_banner(stack)
        yield stack
    finally:
        if stack.process.poll() is None:
            stack.started |= descendants(stack.process.pid)
            stack.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                stack.process.wait(timeout=60)
        for pid, process in stack.started.items():
            if is_running(pid, process):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if stack.process.poll() is None:
            os.killpg(stack.process.pid, signal.SIGKILL)
            stack.process.wait()


# --- Checks -------------------------------------------------------------------------------------


def library_ids(client: httpx.Client) -> list[str]:
    response = client.get("/api/v1/catalog/libraries", params={"rowsPerPage": 1000})
    assert response.status_code == 200, response.text
    return [row["libraryId"] for row in response.json()["results"]]


def catalog_counts(client: httpx.Client) -> dict[str, int]:
    counts = {}
    for listing in ("libraries", "runs", "workflow-runs"):
        response = client.get(f"/api/v1/catalog/{listing}")
        assert response.status_code == 200, response.text
        counts[listing] = int(response.json()["pagination"]["count"])
    return counts


def manifest_library_ids(var_dir: Path) -> list[str]:
    with (var_dir / "demo" / "lims_manifest.csv").open(newline="") as handle:
        return [row["library_id"] for row in csv.DictReader(handle)]


def package_reaches_succeeded(stack: LocalStack, client: httpx.Client, libraries: list[str]) -> str:
    response = client.post(
        "/api/v1/package/",
        json={
            "packageName": "make-run-check",
            "packageRequest": {
                "libraryIdList": libraries,
                "dataTypeList": ["fastq", "secondaryAnalysis"],
            },
        },
    )
    assert response.status_code == 201, response.text
    package_id = str(response.json()["id"])

    def finished() -> dict[str, object] | None:
        package = client.get(f"/api/v1/package/{package_id}").json()
        return package if package["status"] in ("SUCCEEDED", "FAILED", "ABORTED") else None

    package = wait_for(
        finished,
        timeout=STARTUP_TIMEOUT,
        interval=1,
        message=f"the embedded worker did not finish the package:\n{stack.diagnostics()}",
    )
    assert package["status"] == "SUCCEEDED", (package, stack.diagnostics())
    assert package["libraryCount"] == len(libraries)
    return package_id


def admin_login_works(stack: LocalStack, password: str) -> bool:
    with httpx.Client(base_url=stack.base_url, timeout=30) as browser:
        form = browser.get("/admin/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert csrf, form.text
        response = browser.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": csrf.group(1),
                "username": "admin",
                "password": password,
                "next": "/admin/",
            },
        )
        return response.status_code == 302 and response.headers["location"] == "/admin/"


def manage_py_sees(var_dir: Path, expression: str) -> str:
    """`manage.py shell` with nothing configured but VAR_DIR (as the README tells users)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(LEAKY_PREFIXES)}
    env["VAR_DIR"] = str(var_dir)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", f"print({expression})"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_make_run_serves_builds_packages_stops_everything_and_restarts_idempotently(
    tmp_path: Path,
) -> None:
    var_dir = tmp_path / "state"

    with running(var_dir) as stack:
        token = stack.banner_value("API token:")
        password = stack.banner_value("password:")
        assert stack.banner_value("Admin:") == f"{stack.base_url}/admin/"
        # Its state is under VAR_DIR.
        for name in ("db.sqlite3", "broker", "seaweedfs", "local.env", "admin-password"):
            assert (var_dir / name).exists(), name
        # Secrets at rest: the state is owner-only, the database holds no usable API token.
        assert var_dir.stat().st_mode & 0o077 == 0
        for name in (
            "db.sqlite3",
            "local.env",
            "admin-password",
            "admin-token",
            "secret-key",
            "seaweedfs/s3-identities.json",
        ):
            assert (var_dir / name).stat().st_mode & 0o077 == 0, name
        assert token.encode() not in (var_dir / "db.sqlite3").read_bytes()

        # The banner comes once the service is healthy, its worker included.
        health = httpx.get(f"{stack.base_url}/healthz", timeout=30)
        assert health.status_code == 200, health.text
        checks = health.json()["checks"]
        assert checks.pop("worker").startswith("ok: local-worker@"), health.text
        assert checks == {"database": "ok", "broker": "ok", "s3": "ok"}
        assert admin_login_works(stack, password)
        assert not admin_login_works(stack, password + "-wrong")

        with stack.api(token) as client:
            libraries = library_ids(client)
            assert "L2400101" in libraries
            seeded = catalog_counts(client)
            manifest = manifest_library_ids(var_dir)
            assert manifest and set(manifest) <= set(libraries)
            package_id = package_reaches_succeeded(stack, client, manifest)

        # manage.py in the checkout acts on this instance given only VAR_DIR (local.env is
        # found under it): same database, same S3 endpoint.
        endpoint = stack.banner_value("S3 endpoint:")
        assert endpoint == f"http://127.0.0.1:{stack.s3_port}"
        seen = manage_py_sees(
            var_dir,
            "(s := __import__('django.conf').conf.settings).AWS_ENDPOINT_URL_S3,"
            " s.DATABASES['default']['NAME']",
        )
        assert seen == f"{endpoint} {var_dir / 'db.sqlite3'}"

        started = stop_with_ctrl_c(stack)
        commands = [process.command for process in started.values()]
        for expected in ("gunicorn", "celery -A datasharing worker", "datasharing beat", "weed"):
            assert any(expected in command for command in commands), (expected, commands)
        assert stack.process.returncode == 0, stack.diagnostics()
        assert "stopped." in stack.text()

        def survivors() -> list[str]:
            return [p.command for pid, p in started.items() if is_running(pid, p)]

        # Polled: a killed process disappears from /proc a moment after its parent has exited.
        deadline = time.monotonic() + 30
        while survivors() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert survivors() == []

    with running(var_dir) as again:
        assert again.banner_value("API token:") == token
        assert again.banner_value("password:") == password
        with again.api(token) as client:
            assert library_ids(client) == libraries
            assert catalog_counts(client) == seeded
            package = client.get(f"/api/v1/package/{package_id}")
            assert package.status_code == 200 and package.json()["status"] == "SUCCEEDED"
            assert client.get("/api/v1/package/").json()["pagination"]["count"] == 1


# --- Supervision ---------------------------------------------------------------------------------

# Short enough for the test to see a stopped worker judged unresponsive (make run passes them to
# its worker, which judges itself with the same values).
FAST_LIVENESS = {
    "WORKER_CANARY_SECONDS": "1",
    "WORKER_UNRESPONSIVE_SECONDS": "6",
    "WORKER_HEARTBEAT_MAX_AGE_SECONDS": "6",
}


def worker_pid(stack: LocalStack) -> int:
    """The pid of the stack's one running Celery worker."""
    workers = [
        pid
        for pid, process in descendants(stack.process.pid).items()
        if "datasharing worker" in process.command and is_running(pid, process)
    ]
    assert len(workers) == 1, workers
    return workers[0]


def ready_worker_pid(stack: LocalStack, *, other_than: int | None = None) -> int:
    """Once `/healthz/ready` says a worker (not `other_than`) executes tasks: its pid."""

    def ready() -> int | None:
        response = httpx.get(f"{stack.base_url}/healthz/ready", timeout=30)
        if response.status_code != 200:
            return None
        pids = [w["pid"] for w in response.json()["workers"] if w["state"] == "ok"]
        return pids[0] if pids and pids[0] != other_than else None

    pid: int = wait_for(
        ready,
        timeout=STARTUP_TIMEOUT,
        interval=0.5,
        message=f"no worker became ready again:\n{stack.diagnostics()}",
    )
    return pid


def test_make_run_restarts_a_killed_worker_and_a_frozen_one_and_still_builds_packages(
    tmp_path: Path,
) -> None:
    var_dir = tmp_path / "state"
    with running(var_dir, FAST_LIVENESS) as stack:
        token = stack.banner_value("API token:")
        first = ready_worker_pid(stack)
        assert first == worker_pid(stack)

        os.kill(first, signal.SIGKILL)
        second = ready_worker_pid(stack, other_than=first)
        assert second == worker_pid(stack)
        assert "worker exited with -9" in stack.text()
        assert "stopping" not in stack.text()

        # Frozen: alive, answering nothing. Its heartbeat stops; make run replaces it.
        os.kill(second, signal.SIGSTOP)
        third = ready_worker_pid(stack, other_than=second)
        assert third == worker_pid(stack)
        assert "worker is unresponsive (no heartbeat for" in stack.text()
        assert _stat(second) is None  # stopped for good (killed and reaped)

        with stack.api(token) as client:
            package_reaches_succeeded(stack, client, manifest_library_ids(var_dir))

        started = stop_with_ctrl_c(stack)
        assert stack.process.returncode == 0, stack.diagnostics()
        deadline = time.monotonic() + 30
        while any(is_running(pid, p) for pid, p in started.items()):
            assert time.monotonic() < deadline, [p.command for p in started.values()]
            time.sleep(0.2)
