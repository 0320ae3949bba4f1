"""Broker throughput on the embedded stack: tasks from enqueue to executed by a real worker.

    .venv/bin/python -m bench.bench_broker [--tasks 1000] [--task-ms 0,10] [--pool threads -c 4]

The stack is `make run`'s: SQLite and the filesystem broker in a fresh VAR_DIR, the worker with
the pool and concurrency the settings give it (threads, 4) unless told otherwise. The worker
(`celery -A datasharing worker --include bench.bench_broker`) runs `bench.noop` tasks that append a
line to a file (after sleeping `--task-ms`); the figure is tasks executed per second from the first
enqueue to the last line. Prints the settings used. Set CELERY_BROKER_URL (and friends) to measure
another broker the same way. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from celery import shared_task

from bench.harness import ROOT, cpu_seconds, report

WORKER_START_TIMEOUT = 120


def _record(path: str) -> None:
    # One write with O_APPEND: lines from several threads or processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"done\n")
    finally:
        os.close(fd)


@shared_task(name="bench.noop", ignore_result=True)
def noop(path: str, seconds: float = 0.0) -> None:
    """Costs nothing but a line (and an optional sleep): what is measured is broker and pool."""
    if seconds:
        time.sleep(seconds)
    _record(path)


def lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def start_worker(
    *, log: Path, pool: str | None, concurrency: int | None
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "datasharing",
        "worker",
        "--include",
        "bench.bench_broker",
        "--loglevel",
        "WARNING",
        "--hostname",
        f"bench-{os.getpid()}@%h",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]
    if pool:
        command += ["--pool", pool]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    with log.open("ab") as output:
        worker = subprocess.Popen(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    return worker


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


@dataclass(frozen=True)
class Run:
    task_ms: float
    tasks: int
    executed: int
    enqueue_seconds: float
    end_to_end_seconds: float
    worker_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.executed / self.end_to_end_seconds


def measure(
    *, var: Path, worker: subprocess.Popen[bytes], tasks: int, task_ms: float, timeout: float
) -> Run:
    from datasharing.celery import app

    done = var / f"done-{task_ms:g}ms.txt"
    cpu_before = cpu_seconds(worker.pid)
    started = time.monotonic()
    with app.producer_or_acquire() as producer:
        for _ in range(tasks):
            noop.apply_async(args=[str(done), task_ms / 1000], producer=producer)
    enqueued = time.monotonic() - started
    while lines(done) < tasks and time.monotonic() - started < timeout and worker.poll() is None:
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    return Run(task_ms, tasks, lines(done), enqueued, elapsed, cpu_seconds(worker.pid) - cpu_before)


def wait_until_ready(var: Path, worker: subprocess.Popen[bytes], log: Path) -> None:
    """The worker runs tasks: a first task (which also imports the task code) is done."""
    warmup = var / "warmup.txt"
    noop.delay(str(warmup))
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while lines(warmup) < 1:
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--task-ms", default="0,10", help="comma-separated; one run each")
    parser.add_argument("--pool", default=None, help="default: the settings' (threads)")
    parser.add_argument("-c", "--concurrency", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    # `make run`'s stack, in a state directory of its own.
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="datasharing-bench-broker-")
    os.environ["LOCAL_ENV_FILE"] = ""
    os.environ.pop("DATABASE_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "datasharing.settings"
    var = Path(os.environ["VAR_DIR"])
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)  # the worker records its heartbeats there

    log = var / "bench-worker.log"
    worker = start_worker(log=log, pool=args.pool, concurrency=args.concurrency)
    try:
        wait_until_ready(var, worker, log)
        runs = [
            measure(
                var=var, worker=worker, tasks=args.tasks, task_ms=float(ms), timeout=args.timeout
            )
            for ms in args.task_ms.split(",")
        ]
    finally:
        stop_worker(worker)

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    pool = args.pool or settings.CELERY_WORKER_POOL
    concurrency = args.concurrency or settings.CELERY_WORKER_CONCURRENCY
    lines_out = [
        f"broker {settings.CELERY_BROKER_URL.split('://')[0]}"
        f" (transport {settings.CELERY_BROKER_TRANSPORT or 'from the URL'},"
        f" polling_interval {options.get('polling_interval', '-')} s);"
        f" worker pool {pool}, concurrency {concurrency}, acks_late, prefetch"
        f" {settings.CELERY_WORKER_PREFETCH_MULTIPLIER}; load1 {os.getloadavg()[0]:.1f}",
    ]
    for run in runs:
        lines_out.append(
            f"tasks of {run.task_ms:g} ms: {run.executed}/{run.tasks} executed,"
            f" enqueue {run.enqueue_seconds:.2f} s, enqueue->done {run.end_to_end_seconds:.2f} s:"
            f" **{run.rate:.0f} tasks/s** (worker CPU {run.worker_cpu_seconds:.1f} s)"
            + ("" if worker.returncode in (None, 0) else f"; WORKER EXITED {worker.returncode}")
        )
    report("broker", lines_out)
    return 0 if all(run.executed == run.tasks for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
