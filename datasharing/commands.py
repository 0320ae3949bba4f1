"""Shared pieces for management commands: domain errors become clean command errors."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import CommandError

from datasharing.csvfile import decode_upload
from datasharing.errors import DomainError


@contextlib.contextmanager
def domain_errors_as_command_errors() -> Iterator[None]:
    try:
        yield
    except DomainError as exc:
        raise CommandError(exc.message) from None


def read_text_file(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"No such file: {path}")
    with domain_errors_as_command_errors():
        return decode_upload(file.read_bytes(), name=str(path))
