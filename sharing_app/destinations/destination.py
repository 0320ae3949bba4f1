"""Share destinations: parsing into a `Destination` value (400 for anything malformed).

A destination string is parsed once, where it enters (the push API, a rule being validated, an
automatic share starting its push); everything after that passes the `Destination` around. A push
job stores its parts and gives the value back (`PushJob.destination`, built with `in_s3` /
`in_icav2`, which produce the same value `parse_destination` does for the normalised URI).

Two kinds, written as URIs:
- `s3://<bucket>/<prefix>/`: objects land at `<prefix>/<relative path>`.
- `icav2://<project id or name>/<folder path>/`: files land in that folder of the ICAv2 project.

A destination is normalised to end with "/" so "s3://b/x" and "s3://b/x/" are the same place, and so
an allowed prefix `s3://b/x/` never admits `s3://b/x-other/`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from datasharing import s3
from datasharing.errors import DomainError
from datasharing.query import INVISIBLE_CLASS, text_invisible_characters

S3 = "s3"
ICAV2 = "icav2"
MAX_DESTINATION_LENGTH = 1024
# S3 keys are at most 1024 bytes (UTF-8).
MAX_S3_KEY_BYTES = 1024

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_ICAV2_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
# Characters ICAv2 does not accept in file and folder names (and that no shell treats kindly).
_ICAV2_FORBIDDEN = set('\\:*?"<>|%')


def _segment(excluded: str) -> str:
    """One path segment: not "." or "..", no "/", no control or format characters."""
    return f"(?!\\.{{1,2}}(?:/|$))[^/{excluded}{INVISIBLE_CLASS}]+"


_S3_SEGMENT = _segment("\\\\")
_ICAV2_SEGMENT = _segment(re.escape("".join(sorted(_ICAV2_FORBIDDEN))))
# Every destination `parse_destination` accepts once stripped, as one pattern (the API documents
# it; the parser's messages say what is wrong).
DESTINATION_RE = re.compile(
    "^(?:"
    f"s3://(?![^/]*\\.\\.)[a-z0-9][a-z0-9.-]{{1,61}}[a-z0-9](?:/(?:{_S3_SEGMENT}/)*(?:{_S3_SEGMENT})?)?"
    f"|icav2://[A-Za-z0-9][A-Za-z0-9_.-]{{0,254}}/(?:{_ICAV2_SEGMENT}/)*{_ICAV2_SEGMENT}/?"
    ")$"
)


@dataclass(frozen=True)
class Destination:
    kind: str
    uri: str  # normalised, always ending with "/"
    bucket: str = ""  # s3
    prefix: str = ""  # s3: "" or ending with "/"
    project: str = ""  # icav2: project id or name, as given
    folder_path: str = ""  # icav2: absolute, starting and ending with "/"

    @classmethod
    def in_s3(cls, *, bucket: str, prefix: str) -> Destination:
        """Parts already validated (parsed before, or stored from a parsed value)."""
        return cls(kind=S3, uri=f"s3://{bucket}/{prefix}", bucket=bucket, prefix=prefix)

    @classmethod
    def in_icav2(cls, *, project: str, folder_path: str) -> Destination:
        """Parts already validated; `folder_path` starts and ends with "/"."""
        return cls(
            kind=ICAV2,
            uri=f"icav2://{project}{folder_path}",
            project=project,
            folder_path=folder_path,
        )

    @property
    def project_is_id(self) -> bool:
        return bool(_UUID_RE.fullmatch(self.project))

    def key_for(self, relative_path: str) -> str:
        """S3 key (s3) or path inside the project (icav2) of a package file."""
        if self.kind == S3:
            return self.prefix + relative_path
        return self.folder_path + relative_path


def _check_segments(path: str, original: str) -> None:
    segments = path.split("/")
    if any(segment in {".", ".."} for segment in segments):
        raise DomainError(f"Destination {original!r} contains '.' or '..' path segments.")
    if any(segment == "" for segment in segments[:-1]):
        raise DomainError(f"Destination {original!r} contains an empty path segment ('//').")
    if "\\" in path:
        raise DomainError(f"Destination {original!r} contains a backslash.")


def parse_destination(value: Any) -> Destination:
    """Validate and normalise a share destination; DomainError (400) explains what is wrong."""
    if not isinstance(value, str) or not value.strip():
        raise DomainError(
            "shareDestination is required: s3://bucket/prefix/ or icav2://project/folder/."
        )
    original = value
    value = value.strip()
    if len(value) > MAX_DESTINATION_LENGTH:
        raise DomainError(f"Destination is longer than {MAX_DESTINATION_LENGTH} characters.")
    invisible = text_invisible_characters(value)
    if invisible:
        # Bidi overrides (U+202E) and zero-width characters make a destination read as another.
        raise DomainError(
            f"Destination {original!r} contains control or format characters: "
            f"{', '.join(invisible)}."
        )
    if value.startswith("s3://"):
        return _parse_s3(value, original)
    if value.startswith("icav2://"):
        return _parse_icav2(value, original)
    raise DomainError(
        f"Unsupported destination {original!r}: expected s3://bucket/prefix/ or "
        "icav2://<project id or name>/<folder>/."
    )


def _parse_s3(value: str, original: str) -> Destination:
    bucket, _, prefix = value[len("s3://") :].partition("/")
    if not s3.bucket_name_is_valid(bucket):
        raise DomainError(f"Invalid S3 bucket name {bucket!r} in destination {original!r}.")
    if prefix.startswith("/"):
        raise DomainError(f"Destination {original!r} contains an empty path segment ('//').")
    if prefix:
        _check_segments(prefix if prefix.endswith("/") else prefix + "/", original)
        if not prefix.endswith("/"):
            prefix += "/"
    return Destination.in_s3(bucket=bucket, prefix=prefix)


def _parse_icav2(value: str, original: str) -> Destination:
    project, _, path = value[len("icav2://") :].partition("/")
    if not project:
        raise DomainError(f"Destination {original!r} names no ICAv2 project.")
    if not (_UUID_RE.fullmatch(project) or _ICAV2_PROJECT_RE.fullmatch(project)):
        raise DomainError(
            f"Invalid ICAv2 project {project!r} in destination {original!r}: use the project id "
            "or its name (letters, digits, '_', '-', '.')."
        )
    if not path.strip("/"):
        raise DomainError(
            f"Destination {original!r} needs a folder: icav2://<project>/<folder>/ (files are "
            "never written to a project's root)."
        )
    if not path.endswith("/"):
        path += "/"
    _check_segments(path, original)
    forbidden = sorted(set(path) & _ICAV2_FORBIDDEN)
    if forbidden:
        raise DomainError(
            f"Destination {original!r} contains characters ICAv2 does not accept: "
            + " ".join(forbidden)
        )
    return Destination.in_icav2(project=project, folder_path="/" + path)


def check_relative_paths_fit(destination: Destination, longest_relative_path: str) -> None:
    """S3 keys are limited to 1024 bytes: refuse a destination whose prefix makes one too long."""
    if destination.kind != S3:
        return
    key = destination.key_for(longest_relative_path)
    if len(key.encode()) > MAX_S3_KEY_BYTES:
        raise DomainError(
            f"Destination prefix is too long: {destination.uri}{longest_relative_path} would be "
            f"a key longer than {MAX_S3_KEY_BYTES} bytes."
        )
