"""Push 2,000 objects S3-to-S3 on a local SeaweedFS: our push (a real Celery worker) against
`rclone copy` with the same concurrency, runs alternating; then the peak memory of the worker
pushing 2,000 and 20,000 objects.

Besides wall time, each run reports the CPU time used by the copier (our worker processes, or
rclone) and by SeaweedFS: on a shared machine CPU time is much less noisy than wall time.

Run: .venv/bin/python -m bench.bench_push  (needs rclone: `sudo apt-get install -y rclone`,
Redis on REDIS_URL or 127.0.0.1:6379 and Postgres on DATABASE_URL or 127.0.0.1:5432).

Knobs (environment): BENCH_PUSH_FILES (2000), BENCH_PUSH_MEMORY_FILES (20000),
BENCH_PUSH_SIZE (bytes per object, 65536), BENCH_PUSH_CONCURRENCY (16 copies in flight:
worker processes x threads, and rclone --transfers/--checkers), BENCH_PUSH_WORKERS (2 worker
processes), BENCH_PUSH_ROUNDS (3 runs each).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness

FILES = int(os.environ.get("BENCH_PUSH_FILES", "2000"))
MEMORY_FILES = int(os.environ.get("BENCH_PUSH_MEMORY_FILES", "20000"))
SIZE = int(os.environ.get("BENCH_PUSH_SIZE", str(64 * 1024)))
CONCURRENCY = int(os.environ.get("BENCH_PUSH_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_PUSH_WORKERS", "2"))
ROUNDS = int(os.environ.get("BENCH_PUSH_ROUNDS", "3"))
SOURCE_BUCKET = "bench-push-source"
DESTINATION_BUCKET = "bench-push-destination"
TAG = f"bench-push-{os.getpid()}"


def require_rclone() -> str:
    found = shutil.which("rclone")
    if not found:
        sys.exit(
            "rclone is needed for this benchmark (the reference to compare against). Install it "
            "with: sudo apt-get install -y rclone   (Debian/Ubuntu; or see https://rclone.org/install/)"
        )
    return found


def configure_environment() -> None:
    os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/datasharing_bench_push"
    )
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["CELERY_BROKER_URL"] = redis
    os.environ["CELERY_BROKER_KEY_PREFIX"] = f"{TAG}:"
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = TAG
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ["PUSH_COPY_CONCURRENCY"] = str(max(1, CONCURRENCY // WORKERS))
    os.environ["SHARE_ALLOWED_DESTINATIONS"] = f"s3://{DESTINATION_BUCKET}/"


def put_objects(prefix: str, count: int, size: int) -> list[tuple[str, int, str]]:
    """Write `count` objects of `size` bytes; returns (key, size, md5)."""
    from datasharing import s3

    def put(index: int) -> tuple[str, int, str]:
        key = f"{prefix}fastq/RUN{index // 1000:03d}/Lane_1/L{index:06d}/L{index:06d}_R1.fastq.gz"
        body = hashlib.sha256(key.encode()).digest() * (size // 32 + 1)
        body = body[:size]
        s3.put_object(SOURCE_BUCKET, key, body)
        return key, size, hashlib.md5(body).hexdigest()  # noqa: S324

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(put, range(count)))


def make_package(name: str, objects: list[tuple[str, int, str]]) -> Any:
    from django.utils import timezone

    from packages_app.models import Package, PackageFile, PackageStatus

    now = timezone.now()
    package = Package.objects.create(
        package_name=name,
        status=PackageStatus.SUCCEEDED,
        request={"data_type_list": ["fastq"]},
        start_time=now,
        completion_time=now,
        expires_at=now + timezone.timedelta(days=30),
        file_count=len(objects),
        total_bytes=sum(size for _, size, _ in objects),
    )
    prefix_len = len(objects[0][0].split("fastq/")[0]) if objects else 0
    # (Packaging writes the manifest and checksums; a push copies them as receipts.)
    PackageFile.objects.bulk_create(
        [
            PackageFile(
                package=package,
                relative_path=key[prefix_len:],
                data_type="fastq",
                source_bucket=SOURCE_BUCKET,
                source_key=key,
                size=size,
                etag=md5,
            )
            for key, size, md5 in objects
        ],
        batch_size=2000,
    )
    from packages_app.report.artifacts import package_artifacts_write

    package_artifacts_write(package=package)
    return package


class Worker:
    """A real `celery worker` (prefork) on the bench queue; tracks the peak RSS of its processes."""

    def __init__(self, processes: int) -> None:
        self.log = Path(tempfile.mkstemp(prefix="bench-push-worker-", suffix=".log")[1])
        env = os.environ.copy()
        env["LOG_LEVEL"] = "INFO"  # the "ready." line we wait for is logged at INFO
        env["CONN_MAX_AGE"] = "0"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "datasharing",
                "worker",
                "--concurrency",
                str(processes),
                "--pool",
                "prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
                "-Q",
                TAG,
                "--hostname",
                f"{TAG}-{time.monotonic_ns()}@%h",
            ],
            cwd=harness.ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while b"ready." not in self.log.read_bytes():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"worker did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def pids(self) -> list[int]:
        found = [self.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().split()
                except OSError:
                    continue
                if int(stat[3]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def cpu_seconds(self) -> float:
        """CPU time of the worker's processes so far (the pool processes live as long as it)."""
        return sum(harness.cpu_seconds(pid) for pid in self.pids())

    def peak_rss_mib(self) -> dict[int, float]:
        """VmHWM (peak resident set) of the main process and each pool process."""
        peaks = {}
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[pid] = int(line.split()[1]) / 1024
            except OSError:
                continue
        return peaks

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.unlink(missing_ok=True)


def run_ours(package: Any, destination: str, user: Any) -> float:
    from sharing_app.destinations.destination import parse_destination
    from sharing_app.push import services
    from sharing_app.push.models import PushJob, PushStatus

    start = time.perf_counter()
    job = services.push_create(
        package=package, destination=parse_destination(destination), user=user
    )
    while True:
        status, error = PushJob.objects.filter(id=job.id).values_list("status", "error_message")[0]
        if status in (PushStatus.SUCCEEDED, PushStatus.FAILED, PushStatus.ABORTED):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    if status != PushStatus.SUCCEEDED:
        raise RuntimeError(f"push {job.id} ended {status}: {error}")
    return elapsed


def rclone_cpu_seconds() -> float:
    """CPU time of finished child processes (rclone runs) of this process so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured(
    run: Callable[[], float], copier_cpu: Callable[[], float]
) -> tuple[float, float, float]:
    """(wall seconds, copier CPU seconds, S3 server CPU seconds) of one run."""
    server = harness.s3_server_pid
    copier_before = copier_cpu()
    server_before = harness.cpu_seconds(server) if server else 0.0
    elapsed = run()
    server_cpu = harness.cpu_seconds(server) - server_before if server else 0.0
    return elapsed, copier_cpu() - copier_before, server_cpu


def run_rclone(rclone: str, source_prefix: str, destination_prefix: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env |= {
        "RCLONE_CONFIG_BENCH_TYPE": "s3",
        "RCLONE_CONFIG_BENCH_PROVIDER": "SeaweedFS",
        "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "RCLONE_CONFIG_BENCH_ENDPOINT": os.environ["AWS_ENDPOINT_URL_S3"],
        "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
    }
    start = time.perf_counter()
    subprocess.run(
        [
            rclone,
            "copy",
            f"bench:{SOURCE_BUCKET}/{source_prefix}",
            f"bench:{DESTINATION_BUCKET}/{destination_prefix}",
            "--transfers",
            str(CONCURRENCY),
            "--checkers",
            str(CONCURRENCY),
            "--s3-no-check-bucket",
        ],
        env=env,
        check=True,
    )
    return time.perf_counter() - start


def count_objects(prefix: str) -> int:
    from datasharing import s3

    return sum(1 for _ in s3.list_objects(DESTINATION_BUCKET, prefix))


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    # `timeout` and Ctrl-C: unwind through the finally blocks that stop our workers.
    raise SystemExit(128 + signum)


def forget_broker_keys() -> None:
    """Remove this run's queue and bindings from Redis (they carry our key prefix)."""
    import redis

    client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    for key in client.scan_iter(match=f"{TAG}:*"):
        client.delete(key)


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    rclone = require_rclone()
    configure_environment()
    try:
        run(rclone)
    finally:
        forget_broker_keys()


def run(rclone: str) -> None:
    harness.setup(s3=True)
    from django.contrib.auth.models import User

    from datasharing import s3

    for bucket in (SOURCE_BUCKET, DESTINATION_BUCKET):
        s3.ensure_bucket(bucket)
    user = User.objects.create_superuser("bench", None, None)
    threads = max(1, CONCURRENCY // WORKERS)
    lines = [
        f"objects of {SIZE} bytes; concurrency {CONCURRENCY} (ours: {WORKERS} worker processes x "
        f"{threads} threads, default batch settings; rclone: --transfers "
        f"{CONCURRENCY} --checkers {CONCURRENCY}); SeaweedFS {os.environ['AWS_ENDPOINT_URL_S3']}",
    ]
    speed = measure_speed(rclone, user)
    lines += speed.lines()
    lines += measure_memory(user, speed_peak=speed.worker_peak_mib)
    harness.report("bench_push", lines)


@dataclass
class SpeedRuns:
    """Wall seconds and (copier, S3 server) CPU seconds of each round, ours and rclone's."""

    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    ours_cpu: list[tuple[float, float]] = field(default_factory=list)
    theirs_cpu: list[tuple[float, float]] = field(default_factory=list)
    worker_peak_mib: float = 0.0

    def lines(self) -> list[str]:
        ours_median, theirs_median = statistics.median(self.ours), statistics.median(self.theirs)

        def cpu(runs: list[tuple[float, float]], name: str) -> str:
            copier = statistics.median(c for c, _ in runs)
            server = statistics.median(s for _, s in runs)
            return f"CPU median: {name} {copier:.2f} s, S3 server {server:.2f} s"

        return [
            f"{FILES} objects: ours median {ours_median:.2f} s ({FILES / ours_median:.0f} objects/s), "
            f"runs {', '.join(f'{t:.2f}' for t in self.ours)}; {cpu(self.ours_cpu, 'worker')}",
            f"{FILES} objects: rclone copy median {theirs_median:.2f} s "
            f"({FILES / theirs_median:.0f} objects/s), runs "
            f"{', '.join(f'{t:.2f}' for t in self.theirs)}; {cpu(self.theirs_cpu, 'rclone')}",
            f"ratio ours / rclone: {ours_median / theirs_median:.2f} (below 1: ours is faster); "
            f"per round: "
            f"{', '.join(f'{a / b:.2f}' for a, b in zip(self.ours, self.theirs, strict=True))}",
        ]


def measure_speed(rclone: str, user: Any) -> SpeedRuns:
    """2,000 objects pushed by us and copied by rclone, runs alternating, after a warm-up."""
    objects = put_objects("speed/", FILES, SIZE)
    package = make_package("bench-speed", objects)
    worker = Worker(WORKERS)
    runs = SpeedRuns()
    try:
        # Warm-up, not timed: the worker's pool processes open their database and S3
        # connections (a running service has them open), rclone's binary is read into the cache.
        warm = make_package("bench-warm-up", put_objects("warm-up/", 500, 1024))
        run_ours(warm, f"s3://{DESTINATION_BUCKET}/warm-up-ours/", user)
        run_rclone(rclone, "warm-up/", "warm-up-rclone/")
        for round_number in range(1, ROUNDS + 1):
            speed_round(rclone, package, user, worker, runs, round_number)
        runs.worker_peak_mib = max(worker.peak_rss_mib().values())
    finally:
        worker.stop()
    return runs


def speed_round(
    rclone: str, package: Any, user: Any, worker: Worker, runs: SpeedRuns, round_number: int
) -> None:
    prefix = f"ours-{round_number}/"
    elapsed, copier, server = measured(
        lambda: run_ours(package, f"s3://{DESTINATION_BUCKET}/{prefix}", user),
        worker.cpu_seconds,
    )
    runs.ours.append(elapsed)
    runs.ours_cpu.append((copier, server))
    assert count_objects(prefix) >= FILES, "our push copied too few objects"
    rclone_prefix = f"rclone-{round_number}/"
    elapsed, copier, server = measured(
        lambda: run_rclone(rclone, "speed/", rclone_prefix), rclone_cpu_seconds
    )
    runs.theirs.append(elapsed)
    runs.theirs_cpu.append((copier, server))
    assert count_objects(rclone_prefix) == FILES, "rclone copied too few objects"
    print(
        f"round {round_number}: ours {runs.ours[-1]:.2f} s (CPU: worker {runs.ours_cpu[-1][0]:.2f} "
        f"s, S3 {runs.ours_cpu[-1][1]:.2f} s), rclone {runs.theirs[-1]:.2f} s (CPU: rclone "
        f"{runs.theirs_cpu[-1][0]:.2f} s, S3 {runs.theirs_cpu[-1][1]:.2f} s)",
        flush=True,
    )


def measure_memory(user: Any, *, speed_peak: float) -> list[str]:
    """Peak RSS of a fresh worker pushing 2,000 and then 20,000 objects."""
    lines = []
    memory = {}
    for count in (FILES, MEMORY_FILES):
        tiny = put_objects(f"memory-{count}/", count, 1024)
        package = make_package(f"bench-memory-{count}", tiny)
        worker = Worker(WORKERS)
        try:
            elapsed = run_ours(package, f"s3://{DESTINATION_BUCKET}/memory-{count}/", user)
            peaks = worker.peak_rss_mib()
        finally:
            worker.stop()
        memory[count] = (max(peaks.values()), elapsed)
        lines.append(
            f"peak worker RSS pushing {count} objects: {max(peaks.values()):.0f} MiB (largest "
            f"process; all: {', '.join(f'{p:.0f}' for p in sorted(peaks.values()))} MiB), "
            f"{elapsed:.1f} s"
        )
    lines.append(
        f"peak RSS growth from {FILES} to {MEMORY_FILES} objects: "
        f"{memory[MEMORY_FILES][0] - memory[FILES][0]:+.0f} MiB (speed-run worker peak: "
        f"{speed_peak:.0f} MiB)"
    )
    return lines


if __name__ == "__main__":
    main()
