"""Part sizes and byte ranges of multipart copies and uploads (no requests)."""

from __future__ import annotations

import math

MIN_PART_SIZE = 5 * 1024**2
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
# CopyObject copies at most 5 GiB in one request; above that only UploadPartCopy works.
MAX_SINGLE_COPY_SIZE = 5 * 1024**3


def choose_part_size(size: int, *, preferred: int, source_part_size: int | None = None) -> int:
    """Part size for a multipart copy of `size` bytes.

    Mirrors the source's own part size when known (the copy then gets the source's ETag, which makes
    the ETag comparison meaningful), else uses `preferred`, grown so the copy needs at most 10,000
    parts (a 5 TiB object needs parts of about 525 MiB).
    """
    if (
        source_part_size
        and MIN_PART_SIZE <= source_part_size <= MAX_PART_SIZE
        and math.ceil(size / source_part_size) <= MAX_PARTS
    ):
        return source_part_size
    part = max(preferred, MIN_PART_SIZE, math.ceil(size / MAX_PARTS))
    mib = 1024**2
    return min(MAX_PART_SIZE, math.ceil(part / mib) * mib)


def part_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, first byte, last byte) of each part, inclusive ranges as HTTP wants them."""
    return [
        (number, start, min(start + part_size, size) - 1)
        for number, start in enumerate(range(0, size, part_size), start=1)
    ]
