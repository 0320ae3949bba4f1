"""The generated download script, run with bash against the session's SeaweedFS (signature
checking on) into temporary folders."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from datasharing import s3
from packages_app.models import Package, PackageFile
from packages_app.report.artifacts import manifest_tsv
from tests.sharing_app.presign.helpers import (
    CONTENTS,
    SHA256_ONLY,
    SIZE_ONLY,
    fetch,
    make_download_package,
    run_script,
    tree_snapshot,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "templates" / "download" / "download-data.sh"
R1 = next(path for path in CONTENTS if path.endswith("R1_001.fastq.gz"))
R2 = next(path for path in CONTENTS if path.endswith("R2_001.fastq.gz"))


@pytest.fixture
def package(curator) -> Package:  # type: ignore[no-untyped-def]
    return make_download_package(user=curator)


def presign_script(
    client: APIClient, package: Package, tmp_path: Path, **body: int
) -> tuple[Path, dict]:  # type: ignore[type-arg]
    """Presign through the API and download the script through its presigned URL."""
    response = client.post(f"/api/v1/package/{package.id}:presign", body, format="json")
    assert response.status_code == 201, response.json()
    payload = response.json()
    script = tmp_path / payload["scriptName"]
    script.write_bytes(fetch(payload["scriptUrl"]))
    return script, payload


def assert_downloaded_exactly(target: Path, package: Package) -> None:
    for relative_path, body in CONTENTS.items():
        assert (target / relative_path).read_bytes() == body, relative_path
    assert (target / "manifest.tsv").read_text() == manifest_tsv(package=package)
    data_files = {
        str(path.relative_to(target))
        for path in target.rglob("*")
        if path.is_file() and path.name != "manifest.tsv"
    }
    assert data_files == set(CONTENTS), "unexpected files (or partial downloads left behind)"


def test_script_downloads_every_byte_then_a_second_run_downloads_nothing(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, payload = presign_script(curator_client, package, tmp_path)
    target = tmp_path / "down load"  # a space in the folder name

    first = run_script(script, "--download-path", str(target), "--parallel", "3")

    assert first.returncode == 0, first.output
    assert_downloaded_exactly(target, package)
    header = first.stdout.splitlines()[:3]
    assert header[0] == f"Package:  {package.package_name} ({package.id})"
    assert header[1].startswith(f"Files:    {len(CONTENTS)}, ")
    assert f"({sum(len(body) for body in CONTENTS.values())} bytes)" in header[1]
    assert header[2].startswith(f"URLs:     expire at {payload['fileUrlsExpireAt'][:19]}")
    assert f"Downloaded {len(CONTENTS)} files" in first.stdout
    assert (
        f"All {len(CONTENTS)} files are complete and verified (4 by MD5, 1 by SHA-256, 1 by size only)"
        in first.stdout
    )
    assert not (target / ".datasharing-download").exists()

    before = tree_snapshot(target)
    second = run_script(script, "--download-path", str(target))

    assert second.returncode == 0, second.output
    assert "Downloaded 0 files" in second.stdout
    assert "downloaded secondary" not in second.stdout and "downloaded fastq" not in second.stdout
    assert tree_snapshot(target) == before


def test_corrupted_and_truncated_files_are_detected_and_fetched_again(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)
    target = tmp_path / "out"
    assert run_script(script, "--download-path", str(target)).returncode == 0
    corrupted = bytearray(CONTENTS[R1])
    corrupted[1000] ^= 0xFF  # same size: only the checksum can tell
    (target / R1).write_bytes(bytes(corrupted))
    (target / SHA256_ONLY).write_bytes(b"x" * len(CONTENTS[SHA256_ONLY]))
    (target / R2).write_bytes(CONTENTS[R2][:5000])  # truncated: the size tells
    (target / SIZE_ONLY).unlink()

    again = run_script(script, "--download-path", str(target))

    assert again.returncode == 0, again.output
    assert f"{R1} does not match (MD5 is " in again.stdout
    assert f"{SHA256_ONLY} does not match (SHA-256 is " in again.stdout
    assert "Downloaded 4 files" in again.stdout
    assert_downloaded_exactly(target, package)


def test_interrupted_download_resumes_from_the_partial_file(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)
    target = tmp_path / "out"
    partial = target / ".datasharing-download" / "partial" / R1
    partial.parent.mkdir(parents=True)
    # Wrong leading bytes: a resumed download keeps them and fails the MD5 check (a fresh one
    # would not), so the repair below proves the script resumed and then recovered.
    partial.write_bytes(b"\0" * 60_000)

    run = run_script(script, "--download-path", str(target))

    assert run.returncode == 0, run.output
    assert f"{R1} does not match (MD5 is " in run.stdout
    assert_downloaded_exactly(target, package)


def test_source_that_no_longer_matches_the_package_fails_naming_the_file(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)
    source = PackageFile.objects.get(package=package, relative_path=R2)
    s3.put_object(source.source_bucket, source.source_key, os.urandom(len(CONTENTS[R2])))
    target = tmp_path / "out"

    run = run_script(script, "--download-path", str(target))

    assert run.returncode == 1
    assert "ERROR: 1 of 6 files are missing or do not match:" in run.stderr
    assert f"  {R2}: MD5 is " in run.stderr
    assert "downloaded twice; the source differs from the package" in run.stderr
    assert (target / R1).read_bytes() == CONTENTS[R1]


def test_refused_url_fails_loudly_and_writes_no_error_page(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)
    text = script.read_text()
    line = next(line for line in text.splitlines() if f"\t{R1}\t" in line)
    forged = re.sub(r"X-Amz-Signature=[0-9a-f]{8}", "X-Amz-Signature=00000000", line)
    assert forged != line
    script.write_text(text.replace(line, forged))
    target = tmp_path / "out"

    run = run_script(script, "--download-path", str(target))

    assert run.returncode == 1
    assert f"  {R1}: HTTP 403 Forbidden" in run.stderr
    assert not (target / R1).exists()
    assert not list((target / ".datasharing-download" / "partial").rglob("*.gz"))
    assert not (target / ".datasharing-download" / "urls").exists()
    assert (target / R2).read_bytes() == CONTENTS[R2]


def test_expired_urls_fail_loudly_before_writing_anything(
    curator_client: APIClient, package: Package, tmp_path: Path, settings: Any
) -> None:
    # A lifetime far below the API's minimum, so that the URLs expire within the test.
    settings.PRESIGN_FILE_URL_MIN_EXPIRY_SECONDS = 1
    response = curator_client.post(
        f"/api/v1/package/{package.id}:presign", {"fileUrlExpirySeconds": 1}, format="json"
    )
    assert response.status_code == 201, response.json()
    payload = response.json()
    assert payload["fileUrlExpirySeconds"] == 1
    # The script URL is as short-lived as the file URLs: read the script from the bucket.
    script = tmp_path / payload["scriptName"]
    script.write_bytes(s3.get_object_bytes(*payload["scriptUri"][len("s3://") :].split("/", 1)))
    time.sleep(2.5)
    # The server itself refuses the URL now: the script's check is not the only safeguard.
    url = next(line for line in script.read_text().splitlines() if f"\t{R1}\t" in line).split("\t")[
        4
    ]
    probe = subprocess.run(
        ["curl", "--silent", "--output", "/dev/null", "--write-out", "%{http_code}", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout == "403"
    target = tmp_path / "out"

    run = run_script(script, "--download-path", str(target))

    assert run.returncode == 3
    assert "URLs:     EXPIRED at" in run.stdout
    assert "the download URLs in this script EXPIRED" in run.stderr
    assert not target.exists()


def test_dry_run_writes_nothing(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)
    missing_target = tmp_path / "never-created"

    run = run_script(script, "--dry-run", "--download-path", str(missing_target))

    assert run.returncode == 0, run.output
    assert not missing_target.exists()
    assert f"would download {R1} (146.5 KiB)" in run.stdout
    assert "Dry run: 6 files" in run.stdout

    target = tmp_path / "partly"
    (target / R1).parent.mkdir(parents=True)
    (target / R1).write_bytes(CONTENTS[R1])
    before = tree_snapshot(target)
    partly = run_script(script, "--download-path", str(target), "--dry-run")
    assert partly.returncode == 0
    assert f"present        {R1}" in partly.stdout
    assert "Dry run: 5 files" in partly.stdout
    assert tree_snapshot(target) == before


def test_print_tree_prints_the_layout_and_writes_nothing(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)

    run = run_script(script, "--print-tree", "--download-path", "data", cwd=tmp_path)

    assert run.returncode == 0, run.output
    tree = run.stdout.split("Script:   ", 1)[1].splitlines()[1:]
    assert tree == [
        "data/",
        "  manifest.tsv",
        "  fastq/",
        "    241024_A00130_0336_BHW7MVDSXC/",
        "      Lane_1/",
        "        L2401544/",
        "          L2401544_S1_L001_R1_001.fastq.gz  (146.5 KiB)",
        "          L2401544_S1_L001_R2_001.fastq.gz  (117.2 KiB)",
        "  secondary-analysis/",
        "    tumor-normal/",
        "      20241114abcdef01/",
        "        empty.txt  (0 B)",
        "        r\u00e9sum\u00e9 (copy) 'q' $HOME `id` *.html  (20 B)",
        "        sha256-only.vcf.gz  (29.3 KiB)",
        "        size-only.bam  (39.1 KiB)",
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == [script.name]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown option or argument: --bogus"),
        (["extra-argument"], "unknown option or argument: extra-argument"),
        (["--download-path"], "--download-path needs a folder"),
        (["--parallel", "0"], "--parallel needs a whole number from 1 to 64"),
        (["--parallel", "four"], "--parallel needs a whole number from 1 to 64"),
        (["--parallel=65"], "--parallel needs a whole number from 1 to 64"),
    ],
)
def test_bad_options_fail_with_usage_status(
    curator_client: APIClient,
    package: Package,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)

    run = run_script(script, *args, cwd=tmp_path)

    assert run.returncode == 2
    assert message in run.stderr
    assert "Run with -h for help." in run.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [script.name]


def test_help_describes_the_options(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)

    run = run_script(script, "-h")

    assert run.returncode == 0
    for option in (
        "--download-path DIR",
        "--parallel N",
        "--dry-run",
        "--print-tree",
        "-h, --help",
    ):
        assert option in run.stdout
    assert f"Downloads package {package.package_name} ({package.id}): 6 files" in run.stdout


def test_default_download_path_is_the_package_name(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    script, _ = presign_script(curator_client, package, tmp_path)

    run = run_script(script, cwd=tmp_path)

    assert run.returncode == 0, run.output
    assert_downloaded_exactly(tmp_path / package.package_name, package)


def _toolbox(tmp_path: Path, tools: dict[str, str]) -> dict[str, str]:
    """An environment whose PATH holds only `tools` (name -> executable or script text)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in tools.items():
        link = bin_dir / name
        if target.startswith("#!"):
            link.write_text(target)
            link.chmod(0o755)
        else:
            link.symlink_to(target)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}


def test_script_runs_with_busybox_tools_and_macos_style_md5(
    curator_client: APIClient, package: Package, tmp_path: Path
) -> None:
    """No GNU-only flags: every tool but bash and curl is BusyBox, MD5 comes from an `md5 -q`
    command as on macOS and SHA-256 from `shasum -a 256` (md5sum and sha256sum are absent)."""
    busybox = shutil.which("busybox")
    assert busybox, "busybox is missing: `make system-deps` installs it"
    tools = dict.fromkeys(
        ("awk", "cat", "cmp", "date", "mkdir", "mv", "rm", "tail", "tr", "wc", "xargs"), busybox
    )
    tools["bash"] = shutil.which("bash") or "/bin/bash"
    # curl records its arguments: presigned URLs (credentials) must not be among them, where
    # any user of a shared machine could read them in the process list.
    curl_log = tmp_path / "curl-arguments.log"
    tools["curl"] = (
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{curl_log}"\nexec {shutil.which("curl")} "$@"\n'
    )
    # macOS `md5 -q` prints the bare digest of stdin; `shasum -a 256` prints "<digest>  -".
    tools["md5"] = (
        f'#!/bin/sh\n[ "$1" = "-q" ] || exit 64\n{busybox} md5sum | {busybox} cut -c1-32\n'
    )
    tools["shasum"] = f'#!/bin/sh\n[ "$1 $2" = "-a 256" ] || exit 64\nexec {busybox} sha256sum\n'
    env = _toolbox(tmp_path, tools)
    script, _ = presign_script(curator_client, package, tmp_path)
    target = tmp_path / "out"

    first = run_script(script, "--download-path", str(target), "--parallel", "2", env=env)
    assert first.returncode == 0, first.output
    assert_downloaded_exactly(target, package)

    corrupted = bytearray(CONTENTS[R1])
    corrupted[7] ^= 0x01
    (target / R1).write_bytes(bytes(corrupted))
    (target / SHA256_ONLY).write_bytes(b"y" * len(CONTENTS[SHA256_ONLY]))
    second = run_script(script, "--download-path", str(target), env=env)
    assert second.returncode == 0, second.output
    assert "Downloaded 2 files" in second.stdout
    assert_downloaded_exactly(target, package)
    arguments = curl_log.read_text()
    assert arguments.count("--config") == len(CONTENTS) + 2
    assert "X-Amz-Signature" not in arguments
    assert "http://" not in arguments


def test_template_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, (
        "shellcheck is missing: `make system-deps` installs it (apt-get install shellcheck)"
    )
    result = subprocess.run(
        [shellcheck, "--shell=bash", "--severity=style", str(TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_avoids_gnu_only_and_bash4_constructs() -> None:
    """macOS ships bash 3.2 and BSD tools: keep to what both have."""
    code = "\n".join(
        line for line in TEMPLATE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    forbidden = {
        r"\bstat\b": "stat flags differ between GNU and BSD",
        r"\bsed -i\b": "sed -i differs between GNU and BSD",
        r"\breadlink -f\b": "readlink -f is GNU-only",
        r"\bmapfile\b|\breadarray\b": "bash 4",
        r"\bdeclare -A\b|\blocal -A\b": "associative arrays are bash 4",
        r"\bwait -n\b": "bash 4.3",
        r"\$\{[A-Za-z_]+(,,|\^\^)": "case conversion is bash 4",
        r"\bxargs\b.*(\s-r\b|--no-run-if-empty)": "xargs -r is GNU-only",
        r"\bdate\b.*\s-d\b": "date -d is GNU-only",
        r"\bmd5sum\b.*\s--": "GNU long options",
        r"&>>": "bash 4",
    }
    found = {reason for pattern, reason in forbidden.items() if re.search(pattern, code)}
    assert not found
