"""`make run`: the whole service on embedded defaults, on one machine, with nothing installed.

Starts SeaweedFS (S3) under ./var/seaweedfs, migrates the SQLite database, seeds demo data,
creates an admin user and an API token, then runs gunicorn, a Celery worker and Celery beat
(filesystem broker under ./var/broker; the worker runs the threads pool there, see settings).
Ctrl-C stops every process it started.

It supervises what it started: a process that exits is started again, after 1 s or, while it
keeps dying within a minute of its start, after 2, 4 ... 60 s; a worker whose heartbeat says it
stopped executing tasks (datasharing/worker/liveness.py; the worker writes the heartbeat to
./var/run/worker-heartbeat.json) is stopped (SIGTERM, then SIGKILL) and started again.

`var/local.env` records the S3 endpoint and credentials so `.venv/bin/python manage.py ...` in
the same checkout acts on this same instance.

`VAR_DIR` moves all of that state elsewhere (the settings read the same variable, so every
process it starts agrees); relative paths are taken from the checkout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from datasharing.worker.liveness import (
    DEFAULT_CANARY_SECONDS,
    DEFAULT_HEARTBEAT_MAX_AGE_SECONDS,
    DEFAULT_UNRESPONSIVE_SECONDS,
    Thresholds,
    WorkerState,
    heartbeat_file_read,
    supervised_worker_liveness,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# The state directory: the same variable and default as `settings.VAR_DIR`.
VAR = BASE_DIR / os.environ.get("VAR_DIR", "var")
LOCAL_ENV = VAR / "local.env"

# A process that exits within this long of its start is restarted after a growing backoff.
RESTART_RESET_SECONDS = 60.0
RESTART_MAX_DELAY_SECONDS = 60.0
# How long a process gets to stop after SIGTERM before SIGKILL.
STOP_GRACE_SECONDS = 10.0
# Until the service is healthy (worker included), before the banner is printed anyway.
HEALTHY_TIMEOUT_SECONDS = 90.0


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
    return values


def _make_owner_only(state_dir: Path) -> None:
    """Owner-only permissions on a state directory made by an earlier, laxer version."""
    state_dir.chmod(0o700)
    for path in state_dir.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_symlink():
                continue
            mode = path.stat().st_mode & 0o777
            wanted = mode & 0o700
            if mode != wanted:
                path.chmod(wanted)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


# --- Supervision ---------------------------------------------------------------------------------


@dataclass
class Supervised:
    """A process `make run` keeps running, in its own process group: started again when it exits
    and, with `heartbeat_file`, when its heartbeat says it is unresponsive."""

    name: str
    command: list[str]
    env: dict[str, str]
    heartbeat_file: Path | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    process: subprocess.Popen[bytes] | None = None
    spawned_at: dt.datetime = field(default_factory=_utc_now)
    quick_exits: int = 0
    restart_at: float | None = None  # time.monotonic() of a pending restart

    def start(self) -> None:
        self.spawned_at = _utc_now()
        self.restart_at = None
        with (VAR / "logs" / f"{self.name}.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                cwd=BASE_DIR,
            )

    def stop(self, *, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM its process group (and SIGCONT: a stopped process must run to handle it),
        then SIGKILL whatever is left after `grace` seconds."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            _signal_group(process, signal.SIGCONT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
        # What is left: a process that ignored SIGTERM, pool processes of one that died.
        _signal_group(process, signal.SIGKILL)
        process.wait()

    def check(self) -> None:
        """One supervision step: restart when due, when exited, or when unresponsive."""
        if self.restart_at is not None:
            if time.monotonic() >= self.restart_at:
                self.start()
            return
        if self.process is None:
            return
        if self.process.poll() is not None:
            self._schedule_restart()
        elif self.heartbeat_file is not None:
            self._restart_if_unresponsive(self.heartbeat_file)

    def _schedule_restart(self) -> None:
        assert self.process is not None
        lived = (_utc_now() - self.spawned_at).total_seconds()
        self.quick_exits = self.quick_exits + 1 if lived < RESTART_RESET_SECONDS else 0
        delay = min(RESTART_MAX_DELAY_SECONDS, 2.0**self.quick_exits) if self.quick_exits else 1.0
        say(
            f"{self.name} exited with {self.process.returncode} after {lived:.0f} s;"
            f" restarting it in {delay:.0f} s (see {VAR / 'logs' / self.name}.log)"
        )
        self.stop()  # what is left of its process group
        self.restart_at = time.monotonic() + delay

    def _restart_if_unresponsive(self, heartbeat_file: Path) -> None:
        liveness = supervised_worker_liveness(
            heartbeat=heartbeat_file_read(path=heartbeat_file),
            spawned_at=self.spawned_at,
            now=_utc_now(),
            thresholds=self.thresholds,
        )
        if liveness.state == WorkerState.UNRESPONSIVE:
            say(f"{self.name} is unresponsive ({liveness.reason}); restarting it")
            self.stop()
            self.start()


@dataclass
class Stack:
    """Everything `make run` started, stopped in one go."""

    supervised: list[Supervised] = field(default_factory=list)
    s3_process: subprocess.Popen[bytes] | None = None

    def spawn(self, child: Supervised) -> None:
        child.start()
        self.supervised.append(child)

    def supervise_forever(self) -> None:
        while True:
            for child in self.supervised:
                child.check()
            if self.s3_process is not None and self.s3_process.poll() is not None:
                say(f"SeaweedFS exited with {self.s3_process.returncode}; see {VAR / 'logs'}/")
                self.s3_process = None
            time.sleep(1)

    def stop_all(self) -> None:
        # A second Ctrl-C (or SIGTERM) must not interrupt the shutdown half-way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes = [child.process for child in self.supervised if child.process is not None]
        processes += [self.s3_process] if self.s3_process is not None else []
        for process in processes:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
                _signal_group(process, signal.SIGCONT)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline and any(p.poll() is None for p in processes):
            time.sleep(0.2)
        for process in processes:
            # Also the leftovers of a process that has exited (pool processes of a dead worker).
            _signal_group(process, signal.SIGKILL)
            process.wait()
        say("stopped.")


# --- Steps -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    web: int
    s3: int


def _prepare_state_dir() -> None:
    # The state directory holds secrets (S3 credentials, the admin password and token, Django's
    # key, the database): everything in it is owner-only, also what the children write.
    os.umask(0o077)
    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "logs").mkdir(exist_ok=True)
    (VAR / "run").mkdir(exist_ok=True)
    _make_owner_only(VAR)
    # Children (manage.py, gunicorn, celery) run from other working directories: give them the
    # absolute path, so a relative VAR_DIR names the same folder for all of them.
    os.environ["VAR_DIR"] = str(VAR)


def _ports_problem(ports: Ports, *, external_s3: bool) -> str | None:
    from datasharing.seaweed import port_is_free

    if not port_is_free(ports.web):
        return f"port {ports.web} is in use: stop what is using it or run `PORT=8001 make run`."
    if not external_s3 and not port_is_free(ports.s3):
        return f"S3 port {ports.s3} is in use (another `make run`?): stop it or set S3_PORT."
    return None


def _start_s3(stack: Stack, ports: Ports) -> None:
    """SeaweedFS under VAR/seaweedfs; its endpoint and credentials go to local.env and to the
    environment of every process started after it."""
    from datasharing.seaweed import start_seaweedfs

    local = _read_env_file(LOCAL_ENV)
    access_key = local.get("AWS_ACCESS_KEY_ID") or "datasharing"
    secret_key = local.get("AWS_SECRET_ACCESS_KEY") or secrets.token_urlsafe(24)
    say("starting SeaweedFS (S3) ...")
    weed = start_seaweedfs(
        VAR / "seaweedfs",
        s3_port=ports.s3,
        access_key=access_key,
        secret_key=secret_key,
        log_file=VAR / "logs" / "seaweedfs.log",
    )
    stack.s3_process = weed.process
    LOCAL_ENV.write_text(
        "# Written by `make run`: the embedded instance's S3 endpoint and credentials.\n"
        f"AWS_ENDPOINT_URL_S3={weed.endpoint_url}\n"
        f"AWS_ACCESS_KEY_ID={access_key}\n"
        f"AWS_SECRET_ACCESS_KEY={secret_key}\n"
        f"PUBLIC_BASE_URL=http://127.0.0.1:{ports.web}\n"
    )
    LOCAL_ENV.chmod(0o600)
    os.environ.update(_read_env_file(LOCAL_ENV))


@dataclass(frozen=True)
class Access:
    admin_password: str
    api_token: str


def _prepare_database(manage: list[str]) -> Access:
    """Migrate, seed the demo facility, make the admin user and its API token (all idempotent)."""
    say("migrating the database ...")
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], check=True)
    say("seeding demo data (idempotent) ...")
    subprocess.run([*manage, "seed_demo"], check=True, stdout=subprocess.DEVNULL)
    admin_password = _ensure_admin(manage)
    token = subprocess.run(
        [
            *manage,
            "create_api_token",
            "admin",
            "--group",
            "admin",
            "--name",
            "make run",
            # The same token across restarts while it is valid; the database keeps a digest.
            "--token-file",
            str(VAR / "admin-token"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Access(admin_password, token)


def _ensure_admin(manage: list[str]) -> str:
    """Create the `admin` superuser once; its password lives in var/admin-password."""
    password_file = VAR / "admin-password"
    if password_file.exists():
        password = password_file.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    script = (
        "from django.contrib.auth import get_user_model;"
        "import sys;"
        "U=get_user_model();"
        "u,_=U.objects.get_or_create(username='admin', defaults={'email':'admin@localhost'});"
        "u.is_staff=u.is_superuser=True;"
        "u.set_password(sys.stdin.read().strip());"
        "u.save()"
    )
    subprocess.run(
        [*manage, "shell", "--no-imports", "-c", script], input=password, text=True, check=True
    )
    return password


def _worker_thresholds(env: dict[str, str]) -> Thresholds:
    """The worker's WORKER_* settings, read here as its settings read them."""
    return Thresholds(
        canary_seconds=float(env.get("WORKER_CANARY_SECONDS", DEFAULT_CANARY_SECONDS)),
        unresponsive_seconds=float(
            env.get("WORKER_UNRESPONSIVE_SECONDS", DEFAULT_UNRESPONSIVE_SECONDS)
        ),
        heartbeat_max_age_seconds=float(
            env.get("WORKER_HEARTBEAT_MAX_AGE_SECONDS", DEFAULT_HEARTBEAT_MAX_AGE_SECONDS)
        ),
    )


def _start_processes(stack: Stack, *, port: int, manage: list[str]) -> None:
    """gunicorn, the Celery worker and beat (and the event listener when a queue is set)."""
    bin_dir = Path(sys.executable).parent
    env = os.environ.copy()
    stack.spawn(
        Supervised(
            "web",
            [
                str(bin_dir / "gunicorn"),
                "datasharing.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "120",
                "--limit-request-line",
                "8190",  # gunicorn's largest: long filter lists fit (its 414 is documented)
                "--access-logfile",
                "-",
            ],
            env,
        )
    )
    thresholds = _worker_thresholds(env)
    heartbeat_file = VAR / "run" / "worker-heartbeat.json"
    stack.spawn(
        Supervised(
            "worker",
            [
                str(bin_dir / "celery"),
                "-A",
                "datasharing",
                "worker",
                "--loglevel",
                "INFO",
                "--hostname",
                "local-worker@%h",
                # One worker: nothing to synchronise with at start-up, no peers to gossip with.
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ],
            {
                **env,
                "WORKER_HEARTBEAT_FILE": str(heartbeat_file),
                # The worker judges itself with the same thresholds as this supervisor.
                "WORKER_CANARY_SECONDS": str(thresholds.canary_seconds),
                "WORKER_UNRESPONSIVE_SECONDS": str(thresholds.unresponsive_seconds),
                "WORKER_HEARTBEAT_MAX_AGE_SECONDS": str(thresholds.heartbeat_max_age_seconds),
            },
            heartbeat_file=heartbeat_file,
            thresholds=thresholds,
        )
    )
    stack.spawn(
        Supervised(
            "beat",
            [
                str(bin_dir / "celery"),
                "-A",
                "datasharing",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(VAR / "celerybeat-schedule"),
            ],
            env,
        )
    )
    if os.environ.get("EVENTS_QUEUE_URL"):
        stack.spawn(Supervised("listener", [*manage, "listen_events"], env))


def _wait_until_healthy(base: str) -> bool:
    """True once `/healthz` says 200 (its worker included): tasks sent now are executed."""
    import httpx

    deadline = time.monotonic() + HEALTHY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=10).status_code == 200:
                return True
        time.sleep(0.5)
    return False


def _print_banner(base: str, access: Access) -> None:
    print(
        f"""
datasharing is running (embedded defaults; state in {VAR}).

  Admin:        {base}/admin/   user: admin   password: {access.admin_password}
  API:          {base}/api/v1/
  API docs:     {base}/schema/swagger-ui
  Health:       {base}/healthz   (readiness with worker details: {base}/healthz/ready)
  API token:    {access.api_token}
  S3 endpoint:  {os.environ.get("AWS_ENDPOINT_URL_S3", "AWS")}
  Logs:         {VAR / "logs"}/

Try it:
  curl -H 'Authorization: Bearer {access.api_token}' {base}/api/v1/catalog/libraries
  export DATA_SHARING_URL={base} DATA_SHARING_TOKEN={access.api_token}
  .venv/bin/data-sharing-tool generate-package --package-name demo-cup \\
      --lims-manifest-csv {VAR / "demo" / "lims_manifest.csv"} --wait

Press Ctrl-C to stop everything.
""",
        flush=True,
    )


def main() -> int:
    from datasharing.seaweed import wait_http

    _prepare_state_dir()
    ports = Ports(
        web=int(os.environ.get("PORT", "8000")), s3=int(os.environ.get("S3_PORT", "8333"))
    )
    external_s3 = os.environ.get("AWS_ENDPOINT_URL_S3")
    if problem := _ports_problem(ports, external_s3=bool(external_s3)):
        say(problem)
        return 2
    stack = Stack()
    if external_s3:
        say(f"using the S3 endpoint from AWS_ENDPOINT_URL_S3: {external_s3}")
    else:
        _start_s3(stack, ports)

    # Stop on Ctrl-C and on SIGTERM, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        access = _prepare_database(manage)
        _start_processes(stack, port=ports.web, manage=manage)
        base = f"http://127.0.0.1:{ports.web}"
        if not wait_http(f"{base}/healthz", timeout=90):
            say(f"the web server did not answer; see {VAR / 'logs' / 'web.log'}")
            stack.stop_all()
            return 1
        if not _wait_until_healthy(base):
            say(f"not healthy yet (see {base}/healthz and {VAR / 'logs'}/); starting anyway")
        _print_banner(base, access)
        stack.supervise_forever()
    except KeyboardInterrupt:
        say("stopping ...")
        stack.stop_all()
        return 0
    except subprocess.CalledProcessError as exc:
        say(f"setup step failed: {exc}")
        stack.stop_all()
        return 1
    except BaseException:
        stack.stop_all()
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
