"""Pieces of a push that decide things: part sizes, verification, retries, lookups."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from datasharing import s3
from sharing_app.destinations.destination import parse_destination
from sharing_app.push import s3_transfer
from sharing_app.push.icav2_transfer import Icav2Transfer, leaf_folders
from sharing_app.push.runner import FileTask

GIB = 1024**3
MIB = 1024**2


def task(size: int = 100, etag: str = "", md5: str = "", attempts: int = 1) -> FileTask:
    return FileTask(
        id=1,
        relative_path="a/b.bam",
        source_bucket="src",
        source_key="k/b.bam",
        size=size,
        source_etag=etag,
        source_md5=md5,
        destination_key="dst/a/b.bam",
        attempts=attempts,
    )


def info(size: int, etag: str) -> s3.ObjectInfo:
    return s3.ObjectInfo("dst", "dst/a/b.bam", size, etag, "STANDARD", None)


MD5_A = "0" * 31 + "a"
MD5_B = "0" * 31 + "b"


def test_part_sizes_keep_any_object_within_10000_parts() -> None:
    assert s3.choose_part_size(6 * GIB, preferred=256 * MIB) == 256 * MIB
    huge = 5 * 1024 * GIB  # 5 TiB, the S3 maximum
    part = s3.choose_part_size(huge, preferred=256 * MIB)
    assert part % MIB == 0 and s3.MIN_PART_SIZE <= part <= s3.MAX_PART_SIZE
    assert len(s3.part_ranges(huge, part)) <= s3.MAX_PARTS
    assert s3.choose_part_size(10 * MIB, preferred=MIB) == s3.MIN_PART_SIZE


def test_part_size_mirrors_a_usable_source_layout_only() -> None:
    assert s3.choose_part_size(6 * GIB, preferred=256 * MIB, source_part_size=8 * MIB) == 8 * MIB
    # Too small for S3, or too many parts: the configured size wins.
    assert s3.choose_part_size(6 * GIB, preferred=256 * MIB, source_part_size=MIB) == 256 * MIB
    assert (
        s3.choose_part_size(200 * GIB, preferred=256 * MIB, source_part_size=8 * MIB) == 256 * MIB
    )


def test_part_ranges_cover_an_object_over_5_gib_exactly() -> None:
    size = 6 * GIB + 1
    ranges = s3.part_ranges(size, GIB)
    assert [number for number, _, _ in ranges] == list(range(1, 8))
    assert ranges[0] == (1, 0, GIB - 1)
    assert ranges[-1] == (7, 6 * GIB, 6 * GIB)
    assert all(ranges[i][2] + 1 == ranges[i + 1][1] for i in range(len(ranges) - 1))


def test_objects_over_5_gib_always_take_the_multipart_path(settings, monkeypatch) -> None:
    settings.PUSH_MULTIPART_THRESHOLD = 100 * GIB  # a setting cannot push a copy past 5 GiB
    calls: list[str] = []
    monkeypatch.setattr(
        s3, "copy_object", lambda **kw: calls.append("single") or s3.CopyResult("x")
    )
    monkeypatch.setattr(
        s3,
        "multipart_copy",
        lambda **kw: (
            calls.append(f"multipart:{kw['part_size']}") or s3.CopyResult("y-2", ("a", "b"))
        ),
    )
    transfer = s3_transfer.S3Transfer(
        SimpleNamespace(destination_bucket="dst", destination_was_empty=False)
    )  # type: ignore[arg-type]
    assert transfer.threshold == s3.MAX_SINGLE_COPY_SIZE
    transfer._copy(task(size=5 * GIB))
    transfer._copy(task(size=5 * GIB + 1))
    transfer.close()
    assert calls == ["single", f"multipart:{settings.PUSH_MULTIPART_PART_SIZE}"]


def test_multipart_etag_is_md5_of_part_md5s() -> None:
    import hashlib

    parts = [hashlib.md5(b"one").hexdigest(), hashlib.md5(b"two").hexdigest()]  # noqa: S324
    expected = hashlib.md5(hashlib.md5(b"one").digest() + hashlib.md5(b"two").digest()).hexdigest()  # noqa: S324
    assert s3.multipart_etag(parts) == f"{expected}-2"
    assert s3.multipart_etag(["abc-2"]) is None
    assert s3.multipart_etag([]) is None


@pytest.mark.parametrize(
    ("file", "found", "result", "ok", "method", "error"),
    [
        (task(100, etag=MD5_A), info(100, MD5_A), None, True, "etag", ""),
        (task(100, etag="f" * 32 + "-3"), info(100, "f" * 32 + "-3"), None, True, "etag", ""),
        (task(100, etag="f" * 32 + "-3", md5=MD5_A), info(100, MD5_A), None, True, "md5", ""),
        (task(100, etag=MD5_A), info(100, MD5_B), None, False, "", "checksum mismatch"),
        (task(100, etag=MD5_A), info(99, MD5_A), None, False, "", "size mismatch"),
        (task(100, etag=MD5_A), None, None, False, "", "not found"),
        (task(100, etag="f" * 32 + "-3"), info(100, "e" * 32 + "-2"), None, True, "size", ""),
        (
            task(100, etag=MD5_A),
            info(100, s3.multipart_etag([MD5_A, MD5_B]) or ""),
            s3.CopyResult("", (MD5_A, MD5_B)),
            True,
            "size+part-etags",
            "",
        ),
        (
            task(100, etag=MD5_A),
            info(100, "c" * 32 + "-2"),
            s3.CopyResult("", (MD5_A, MD5_B)),
            False,
            "",
            "assembled from the copied parts",
        ),
    ],
)
def test_verification_uses_the_strongest_comparable_check(
    file, found, result, ok, method, error
) -> None:  # type: ignore[no-untyped-def]
    verdict = s3_transfer.verify_copy(file, found, result)
    assert verdict[0] is ok and verdict[1] == method
    assert error in verdict[2]


def test_a_kms_encrypted_destination_is_verified_by_size() -> None:
    verdict = s3_transfer.verify_copy(
        task(100, etag=MD5_A), info(100, MD5_B), None, sse_of=lambda _: "aws:kms"
    )
    assert verdict == (True, "size", "")


def test_identical_means_same_size_and_a_comparable_checksum() -> None:
    assert s3_transfer.is_identical(task(100, etag=MD5_A), info(100, MD5_A))
    assert s3_transfer.is_identical(task(100, etag="f" * 32 + "-2", md5=MD5_A), info(100, MD5_A))
    assert not s3_transfer.is_identical(task(100, etag=MD5_A), info(100, MD5_B))
    assert not s3_transfer.is_identical(task(100, etag=MD5_A), info(101, MD5_A))
    # Another multipart layout of maybe the same bytes: not provably identical, so copied again.
    assert not s3_transfer.is_identical(task(100, etag="f" * 32 + "-2"), info(100, "e" * 32 + "-3"))


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "CopyObject"
    )


def test_throttling_5xx_and_connection_errors_are_retryable() -> None:
    assert s3.is_retryable(_client_error("SlowDown", 503))
    assert s3.is_retryable(_client_error("InternalError", 500))
    assert s3.is_retryable(_client_error("Whatever", 502))
    assert s3.is_retryable(EndpointConnectionError(endpoint_url="http://x"))
    assert not s3.is_retryable(_client_error("AccessDenied", 403))
    assert not s3.is_retryable(_client_error("PreconditionFailed", 412))


def test_destination_lookup_lists_a_range_and_falls_back_to_heads(
    dest_factory, monkeypatch
) -> None:
    place = dest_factory()
    wanted = [place.key(f"f/{n:02d}") for n in range(0, 12, 2)]
    for n in range(12):  # ours (even) interleaved with unrelated objects (odd)
        s3.put_object(place.bucket, place.key(f"f/{n:02d}"), b"x" * n)
    s3.delete_object(place.bucket, wanted[1])
    expected = {key: (None if key == wanted[1] else int(key[-2:])) for key in wanted}

    def sizes(found: dict[str, s3.ObjectInfo | None]) -> dict[str, int | None]:
        return {key: (obj.size if obj else None) for key, obj in found.items()}

    assert sizes(s3_transfer.lookup_destination(place.bucket, wanted)) == expected
    monkeypatch.setattr(
        s3_transfer, "LISTING_SLACK", -10
    )  # a listing budget too small for the range
    assert sizes(s3_transfer.lookup_destination(place.bucket, wanted)) == expected


def test_leaf_folders_let_icav2_create_parents() -> None:
    assert leaf_folders(["a/b/c/f1", "a/b/f2", "a/x/f3", "top.txt", "a/b/c/f4"]) == [
        "a/b/c/",
        "a/x/",
    ]


def test_icav2_uploads_check_bytes_read_and_streamed_md5() -> None:
    verified = Icav2Transfer._verified
    assert verified(task(100, md5=MD5_A), info(100, "x"), 99, MD5_A).error.startswith(
        "read 99 bytes"
    )
    assert "checksum mismatch" in verified(task(100, md5=MD5_A), info(100, "x"), 100, MD5_B).error
    assert (
        verified(task(100, md5=MD5_A), info(100, MD5_A), 100, MD5_A).verification_method
        == "size+stream-md5"
    )
    assert verified(task(100), info(100, "e" * 32 + "-2"), 100, MD5_B).verification_method == "size"
    assert "size mismatch" in verified(task(100), info(10, MD5_A), 100, MD5_A).error


def test_transfer_threads_stop_before_starting_a_file() -> None:
    transfer = s3_transfer.S3Transfer(
        SimpleNamespace(destination_bucket="dst", destination_was_empty=False)
    )  # type: ignore[arg-type]
    stop = threading.Event()
    stop.set()
    outcome = transfer.transfer(task(), stop)
    assert outcome.status == "ABORTED"


@pytest.mark.django_db
def test_claims_take_at_most_their_limit_and_never_the_same_row_twice(
    source_files, package_factory, curator, allow_destination
) -> None:
    from sharing_app.push import services
    from sharing_app.push.models import PushFile, PushJob
    from sharing_app.push.runner import _claim

    job = services.push_create(  # planned by hand below; no task runs here
        package=package_factory(source_files(*[(f"f{n}", 1) for n in range(10)])),
        destination=parse_destination(allow_destination("s3://claims-test/x/")),
        user=curator,
    )
    PushJob.objects.filter(id=job.id).update(status="RUNNING")
    services._create_ledger(job, job.package)
    first = _claim(job.id, "token-a", 3, job, lambda j, path: path)
    second = _claim(job.id, "token-b", 3, job, lambda j, path: path)
    assert len(first) == len(second) == 3
    assert not {f.id for f in first} & {f.id for f in second}
    assert max(f.id for f in first) < min(f.id for f in second)  # lowest ids first
    assert PushFile.objects.filter(job=job, status="IN_PROGRESS").count() == 6
    assert all(f.attempts == 1 for f in first + second)
