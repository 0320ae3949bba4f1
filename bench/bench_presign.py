"""Presign 50,000 files, script included, against botocore's generate_presigned_url loop.

Figures: the whole `package_presign` service (database read, signing, manifest, script, upload to
S3, record), the signing alone with the local SigV4 signer, and the same URLs from a
`generate_presigned_url` loop, in the same run on the same objects (the URLs are compared byte
for byte under a frozen clock). Also the size of the script and how long bash takes to start it.

Run: .venv/bin/python -m bench.bench_presign
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from bench import harness

FILES = 50_000


def make_package() -> object:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from packages_app.models import DataType, Package, PackageFile, PackageStatus

    now = timezone.now()
    user = User.objects.create_user("bench-curator")
    package = Package.objects.create(
        package_name="BENCH-presign",
        status=PackageStatus.SUCCEEDED,
        request={"project_id_list": ["BENCH"], "data_type_list": ["fastq"]},
        requested_by=user,
        completion_time=now,
        expires_at=now + timezone.timedelta(days=30),
    )
    rows = []
    for index in range(FILES):
        library = f"L24{index // 8:05d}"
        run = f"2410{index % 28 + 1:02d}_A00130_{index % 97:04d}_BHW7MVDSXC"
        lane = index % 4 + 1
        read = index % 2 + 1
        name = f"{library}_S{index % 96 + 1}_L00{lane}_R{read}_001.fastq.gz"
        rows.append(
            PackageFile(
                package=package,
                relative_path=f"fastq/{run}/Lane_{lane}/{library}/{name}_{index}",
                data_type=DataType.FASTQ,
                source_bucket=f"facility-primary-{index % 3}",
                source_key=f"primary/{run}/{library}/{name}_{index}",
                size=1_000_000_000 + index,
                etag=f"{index:032x}",
                library_id=library,
                instrument_run_id=run,
                lane=lane,
                read_number=read,
            )
        )
    PackageFile.objects.bulk_create(rows, batch_size=5000)
    package.file_count = FILES
    package.total_bytes = sum(row.size for row in rows)
    package.save()
    return package


def main() -> None:
    # A database of its own: other benchmarks may run at the same time on this server.
    os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/datasharing_bench_presign"
    )
    harness.setup(s3=True)
    from packages_app.models import Package, PackageFile
    from packages_app.report.artifacts import package_artifacts_write
    from sharing_app.presign.services import package_presign

    package = make_package()
    assert isinstance(package, Package)
    # Packaging writes manifest.tsv and checksums.md5 when it finishes; presign reuses the
    # manifest (and renders it itself only for packages without one, timed below).
    artifacts_time, _ = harness.timed(lambda: package_artifacts_write(package=package), repeat=1)
    objects = list(
        PackageFile.objects.filter(package=package)
        .order_by("relative_path")
        .values_list("source_bucket", "source_key")
    )
    signing = time_signing(objects)
    user = package.requested_by
    service_time, result = harness.timed(lambda: package_presign(package=package, user=user))
    api_time = time_api(package, user)
    script = time_script(result.presign.script_key)
    # The whole service with botocore signing instead, estimated: the measured service time
    # minus our signing plus the botocore loop.
    with_botocore = service_time - signing.ours + signing.botocore
    harness.report(
        "presign",
        [
            f"- {FILES:,} files, 3 buckets, SigV4, SeaweedFS on loopback, median of 3",
            f"- signing only: local SigV4 {signing.ours:.2f} s "
            f"({signing.ours / FILES * 1e6:.1f} us/URL) vs botocore generate_presigned_url loop "
            f"{signing.botocore:.2f} s ({signing.botocore / FILES * 1e6:.0f} us/URL): "
            f"{signing.botocore / signing.ours:.0f}x faster (identical URLs)",
            f"- whole presign (DB read, sign, manifest, script, upload, record): {service_time:.2f} s "
            f"(recorded duration {result.presign.duration_ms} ms); with botocore signing it would "
            f"take ~{with_botocore:.1f} s ({with_botocore / service_time:.1f}x)",
            f"- the same through `POST /api/v1/package/{{id}}:presign`: {api_time:.2f} s",
            f"- script: {script.size / 1e6:.1f} MB; `bash script -h` {script.help_time:.2f} s, "
            f"`--print-tree` {script.tree_time:.2f} s",
            f"- (packaging's manifest and checksums for these files, written once when the package "
            f"is built and reused by every presign: {artifacts_time:.2f} s)",
        ],
    )


@dataclass(frozen=True)
class SigningTimes:
    ours: float  # presigned_get_urls, local SigV4 signer
    botocore: float  # a generate_presigned_url loop


def time_signing(objects: list[tuple[str, str]]) -> SigningTimes:
    """Our signer against botocore's loop on the same objects, after checking that both give the
    same URLs under a frozen clock."""
    import botocore.auth

    from datasharing import s3

    expiry = 7 * 24 * 3600
    client = s3.presign_client()

    def botocore_loop() -> list[str]:
        return [
            client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expiry
            )
            for bucket, key in objects
        ]

    frozen = botocore.auth.get_current_datetime()
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=frozen):
        fast = s3.presigned_get_urls(objects, expires_in=expiry)
        assert fast.signer == "sigv4"
        assert fast.urls == botocore_loop(), "local signer differs from botocore"

    sign_time, _ = harness.timed(lambda: s3.presigned_get_urls(objects, expires_in=expiry))
    botocore_time, _ = harness.timed(botocore_loop, repeat=1)
    return SigningTimes(ours=sign_time, botocore=botocore_time)


def time_api(package: Any, user: Any) -> float:
    """One presign through the API, as a superuser."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    user.is_superuser = True
    user.save()
    start = time.perf_counter()
    response = api.post(f"/api/v1/package/{package.id}:presign")
    api_time = time.perf_counter() - start
    assert response.status_code == 201, response.content
    return api_time


@dataclass(frozen=True)
class ScriptFigures:
    size: int
    help_time: float
    tree_time: float


def time_script(script_key: str) -> ScriptFigures:
    """The download script's size, and how long bash takes for `-h` and `--print-tree`."""
    from django.conf import settings

    from datasharing import s3

    script = s3.get_object_bytes(settings.ARTIFACT_BUCKET, script_key)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "download-data.sh"
        path.write_bytes(script)
        start = time.perf_counter()
        subprocess.run(["bash", str(path), "-h"], check=True, capture_output=True)
        help_time = time.perf_counter() - start
        start = time.perf_counter()
        tree = subprocess.run(
            ["bash", str(path), "--print-tree"], check=True, capture_output=True, text=True
        )
        tree_time = time.perf_counter() - start
        assert tree.stdout.count(".fastq.gz_") == FILES
    return ScriptFigures(size=len(script), help_time=help_time, tree_time=tree_time)


if __name__ == "__main__":
    main()
