"""Shared by the presign tests: a package of real objects with awkward names, and a runner for
the generated download script."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

from datasharing import s3
from datasharing.ids import new_id
from packages_app.models import Package, PackageFile
from tests.factories import make_frozen_package

# relative path in the package -> content. Keys in S3 differ from the relative paths.
CONTENTS: dict[str, bytes] = {
    "fastq/241024_A00130_0336_BHW7MVDSXC/Lane_1/L2401544/L2401544_S1_L001_R1_001.fastq.gz": (
        os.urandom(150_000)
    ),
    "fastq/241024_A00130_0336_BHW7MVDSXC/Lane_1/L2401544/L2401544_S1_L001_R2_001.fastq.gz": (
        os.urandom(120_001)
    ),
    # Quotes, spaces, $, backticks, globs and non-ASCII: all must survive bash and the URL.
    "secondary-analysis/tumor-normal/20241114abcdef01/r\u00e9sum\u00e9 (copy) 'q' $HOME `id` *.html": (
        b"<html>report</html>\n"
    ),
    "secondary-analysis/tumor-normal/20241114abcdef01/empty.txt": b"",
    "secondary-analysis/tumor-normal/20241114abcdef01/sha256-only.vcf.gz": os.urandom(30_000),
    "secondary-analysis/tumor-normal/20241114abcdef01/size-only.bam": os.urandom(40_000),
}
SHA256_ONLY = "secondary-analysis/tumor-normal/20241114abcdef01/sha256-only.vcf.gz"
SIZE_ONLY = "secondary-analysis/tumor-normal/20241114abcdef01/size-only.bam"


_SHARED_BUCKETS: dict[str, str] = {}


def shared_bucket(purpose: str) -> str:
    """One bucket per purpose and test session: every SeaweedFS bucket takes volumes, and the
    test server has a fixed number of them, so tests share buckets and use unique keys."""
    if purpose not in _SHARED_BUCKETS:
        name = f"{purpose}-{os.getpid()}"
        s3.ensure_bucket(name)
        _SHARED_BUCKETS[purpose] = name
    return _SHARED_BUCKETS[purpose]


def make_download_package(
    *,
    user: User | None = None,
    name: str = "CUP-download",
    contents: dict[str, bytes] | None = None,
) -> Package:
    """A SUCCEEDED package whose files are real objects; one file has only a SHA-256 and one
    only a size (as for multipart uploads, whose ETag is not an MD5)."""
    contents = CONTENTS if contents is None else contents
    bucket = shared_bucket("presign-src")
    prefix = f"source/{new_id('src')}"
    files = []
    for index, (relative_path, body) in enumerate(contents.items()):
        key = f"{prefix}/{index:03d}/{relative_path.rsplit('/', 1)[-1]}"
        s3.put_object(bucket, key, body)
        files.append((bucket, key, relative_path))
    package = make_frozen_package(files=files, name=name, user=user)
    for relative_path in (SHA256_ONLY, SIZE_ONLY):
        if relative_path in contents:
            row = PackageFile.objects.get(package=package, relative_path=relative_path)
            row.etag = "0123456789abcdef0123456789abcdef-2"  # multipart: not an MD5
            if relative_path == SHA256_ONLY:
                row.sha256 = hashlib.sha256(contents[relative_path]).hexdigest()
            row.save()
    return package


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())


@dataclass
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_script(
    script: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> ScriptRun:
    result = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env if env is not None else _clean_env(),
        cwd=cwd,
        check=False,
    )
    return ScriptRun(result.returncode, result.stdout, result.stderr)


def _clean_env() -> dict[str, str]:
    """The recipient's environment: no AWS credentials, nothing but a PATH and a HOME."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def tree_snapshot(root: Path) -> dict[str, Any]:
    """Every path under `root` with its inode, size and modification time."""
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): (
            path.stat().st_ino,
            path.stat().st_size,
            path.stat().st_mtime_ns,
        )
        for path in sorted(root.rglob("*"))
    }
