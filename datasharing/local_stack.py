"""`make run`: the whole service on embedded defaults, on one machine, with nothing installed.

Starts SeaweedFS (S3) under ./var/seaweedfs, migrates the SQLite database, seeds demo data,
creates an admin user and an API token, then runs gunicorn, a Celery worker and Celery beat
(filesystem broker under ./var/broker). Ctrl-C stops every process it started.

`var/local.env` records the S3 endpoint and credentials so `.venv/bin/python manage.py ...` in
the same checkout acts on this same instance.

`VAR_DIR` moves all of that state elsewhere (the settings read the same variable, so every
process it starts agrees); relative paths are taken from the checkout.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The state directory: the same variable and default as `settings.VAR_DIR`.
VAR = BASE_DIR / os.environ.get("VAR_DIR", "var")
LOCAL_ENV = VAR / "local.env"


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


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


def main() -> int:
    from datasharing.seaweed import port_is_free, start_seaweedfs, wait_http

    # The state directory holds secrets (S3 credentials, the admin password and token, Django's
    # key, the database): everything in it is owner-only, also what the children write.
    os.umask(0o077)
    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "logs").mkdir(exist_ok=True)
    _make_owner_only(VAR)
    # Children (manage.py, gunicorn, celery) run from other working directories: give them the
    # absolute path, so a relative VAR_DIR names the same folder for all of them.
    os.environ["VAR_DIR"] = str(VAR)
    port = int(os.environ.get("PORT", "8000"))
    s3_port = int(os.environ.get("S3_PORT", "8333"))
    local = _read_env_file(LOCAL_ENV)
    access_key = local.get("AWS_ACCESS_KEY_ID") or "datasharing"
    secret_key = local.get("AWS_SECRET_ACCESS_KEY") or secrets.token_urlsafe(24)
    external_s3 = os.environ.get("AWS_ENDPOINT_URL_S3")

    children: list[subprocess.Popen[bytes]] = []
    weed = None

    def stop_all(*_: object) -> None:
        # A second Ctrl-C (or SIGTERM) must not interrupt the shutdown half-way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes = [*children, *([weed.process] if weed is not None else [])]
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(p.poll() is None for p in processes):
            time.sleep(0.2)
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        say("stopped.")

    if not port_is_free(port):
        say(f"port {port} is in use: stop what is using it or run `PORT=8001 make run`.")
        return 2

    if external_s3:
        say(f"using the S3 endpoint from AWS_ENDPOINT_URL_S3: {external_s3}")
    else:
        if not port_is_free(s3_port):
            say(f"S3 port {s3_port} is in use (another `make run`?): stop it or set S3_PORT.")
            return 2
        say("starting SeaweedFS (S3) ...")
        weed = start_seaweedfs(
            VAR / "seaweedfs",
            s3_port=s3_port,
            access_key=access_key,
            secret_key=secret_key,
            log_file=VAR / "logs" / "seaweedfs.log",
        )
        LOCAL_ENV.write_text(
            "# Written by `make run`: the embedded instance's S3 endpoint and credentials.\n"
            f"AWS_ENDPOINT_URL_S3={weed.endpoint_url}\n"
            f"AWS_ACCESS_KEY_ID={access_key}\n"
            f"AWS_SECRET_ACCESS_KEY={secret_key}\n"
            f"PUBLIC_BASE_URL=http://127.0.0.1:{port}\n"
        )
        LOCAL_ENV.chmod(0o600)
        os.environ.update(_read_env_file(LOCAL_ENV))

    # Stop on Ctrl-C and on SIGTERM, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        python = sys.executable
        manage = [python, str(BASE_DIR / "manage.py")]
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

        bin_dir = Path(python).parent
        env = os.environ.copy()

        def spawn(name: str, command: list[str]) -> None:
            log = (VAR / "logs" / f"{name}.log").open("ab")
            children.append(
                subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                    cwd=BASE_DIR,
                )
            )

        spawn(
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
        )
        spawn(
            "worker",
            [
                str(bin_dir / "celery"),
                "-A",
                "datasharing",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--hostname",
                "local-worker@%h",
            ],
        )
        spawn(
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
        )
        if os.environ.get("EVENTS_QUEUE_URL"):
            spawn("listener", [*manage, "listen_events"])
        base = f"http://127.0.0.1:{port}"
        if not wait_http(f"{base}/healthz", timeout=90):
            say(f"the web server did not answer; see {VAR / 'logs' / 'web.log'}")
            stop_all()
            return 1
        print(
            f"""
datasharing is running (embedded defaults; state in {VAR}).

  Admin:        {base}/admin/   user: admin   password: {admin_password}
  API:          {base}/api/v1/
  API docs:     {base}/schema/swagger-ui
  Health:       {base}/healthz
  API token:    {token}
  S3 endpoint:  {os.environ.get("AWS_ENDPOINT_URL_S3", "AWS")}
  Logs:         {VAR / "logs"}/

Try it:
  curl -H 'Authorization: Bearer {token}' {base}/api/v1/catalog/libraries
  export DATA_SHARING_URL={base} DATA_SHARING_TOKEN={token}
  .venv/bin/data-sharing-tool generate-package --package-name demo-cup \\
      --lims-manifest-csv {VAR / "demo" / "lims_manifest.csv"} --wait

Press Ctrl-C to stop everything.
""",
            flush=True,
        )
        while True:
            for child in children:
                if child.poll() is not None:
                    say(
                        f"a process exited unexpectedly ({child.args!s:.80}); stopping. See {VAR / 'logs'}/"
                    )
                    stop_all()
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        say("stopping ...")
        stop_all()
        return 0
    except subprocess.CalledProcessError as exc:
        say(f"setup step failed: {exc}")
        stop_all()
        return 1
    except BaseException:
        stop_all()
        raise


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


if __name__ == "__main__":
    sys.exit(main())
