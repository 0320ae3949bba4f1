"""Renders the download script (`templates/download/download-data.sh`) for a list of files.

The template is a complete bash script with placeholders; values are shell-quoted, the tables
go into quoted here-documents (no expansion), and every relative path is checked first: the
script writes `<download path>/<relative path>`, so a path that is absolute, climbs out with
`..` or carries control characters (which would break the tab-separated tables) is refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import shlex
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from datasharing.errors import Conflict

TEMPLATE_PATH = Path("download") / "download-data.sh"
# Must match STATE_NAME in the template: the folder for partial downloads inside the target.
STATE_NAME = ".datasharing-download"
MANIFEST_NAME = "manifest.tsv"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HEX_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_HEX_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Longest file or folder name most filesystems accept (bytes).
_MAX_NAME_BYTES = 255
_MAX_LISTED = 100
_URL_RE = re.compile(r"^https?://[!#-\[\]-~]+$")
_SCALAR_RE = re.compile(r"'@([A-Z_]+)@'")
# Relative, no empty, '.' or '..' segment, no control character, names of 1-255 characters, not
# in the script's state folder: what relative_path_problem accepts, for ASCII paths.
_SAFE_ASCII_PATH_RE = re.compile(
    r"^(?!\.datasharing-download(?:/|$))"
    r"(?:(?!\.\.?/)[^/\x00-\x1f\x7f]{1,255}/)*"
    r"(?!\.\.?$)[^/\x00-\x1f\x7f]{1,255}$"
)


@dataclass(frozen=True)
class ScriptFile:
    relative_path: str
    size: int
    md5: str  # lowercase hex, or "" when unknown
    sha256: str  # lowercase hex, or "" when unknown
    url: str

    @property
    def checksum(self) -> str:
        """The script's checksum field: `md5:HEX`, `sha256:HEX` or `-` (size only)."""
        if _HEX_MD5_RE.fullmatch(self.md5):
            return f"md5:{self.md5}"
        if _HEX_SHA256_RE.fullmatch(self.sha256):
            return f"sha256:{self.sha256}"
        return "-"


@dataclass(frozen=True)
class ScriptHeader:
    package_id: str
    package_name: str
    presign_id: str
    generated_at: dt.datetime
    urls_expire_at: dt.datetime


def relative_path_problem(path: str) -> str | None:
    """Why `path` cannot be written under the download folder, or None when it is safe."""
    if not path:
        return "empty path"
    if path.startswith("/"):
        return "absolute path"
    if _CONTROL_RE.search(path):
        return "control character"
    segments = path.split("/")
    if any(segment in {"", ".", ".."} for segment in segments):
        return "empty, '.' or '..' segment"
    if segments[0] == STATE_NAME:
        return f"uses the script's reserved folder {STATE_NAME}"
    if any(len(segment.encode()) > _MAX_NAME_BYTES for segment in segments):
        return f"a file or folder name longer than {_MAX_NAME_BYTES} bytes"
    return None


def check_relative_paths(paths: Sequence[str]) -> None:
    """Refuse (409) paths the script cannot write safely, naming them.

    Besides each path on its own, a path may not be a folder of another one (`a/b` and `a/b/c`).
    """
    problems = {}
    for path in paths:
        # The regular expression clears the usual path in a microsecond; the rest get the full
        # check (non-ASCII names are measured in bytes there).
        if path.isascii() and _SAFE_ASCII_PATH_RE.fullmatch(path):
            continue
        problem = relative_path_problem(path)
        if problem:
            problems[path] = problem
    folders: set[str] = set()
    for path in paths:
        # Files share folders: stop climbing at the first folder already seen.
        folder = path.rpartition("/")[0]
        while folder and folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]
    for path in paths:
        if path in folders:
            problems[path] = "is both a file and a folder of other files"
    if problems:
        listed = dict(sorted(problems.items())[:_MAX_LISTED])
        raise Conflict(
            f"{len(problems)} relative path(s) of the package cannot be written safely by a "
            "download script.",
            details={"problem_count": len(problems), "paths": listed},
        )


def manifest_name(paths: Sequence[str], package_id: str) -> str:
    """`manifest.tsv`, unless the package has a data file of that name at its top."""
    return MANIFEST_NAME if MANIFEST_NAME not in set(paths) else f"manifest.{package_id}.tsv"


def case_collisions(paths: Sequence[str]) -> int:
    """How many paths share their lower-cased form with another (they collide on macOS)."""
    counts = Counter(path.casefold() for path in paths)
    return sum(count for count in counts.values() if count > 1)


@functools.lru_cache(maxsize=1)
def _template() -> str:
    return (Path(settings.BASE_DIR) / "templates" / TEMPLATE_PATH).read_text()


def render_download_script(
    *, header: ScriptHeader, files: Sequence[ScriptFile], manifest_tsv: str
) -> str:
    """The script for `files`, in the order given (sorted by relative path for --print-tree).

    Caller has checked the paths with `check_relative_paths`.
    """
    paths = [file.relative_path for file in files]
    scalars = {
        "PACKAGE_ID": header.package_id,
        "PACKAGE_NAME": header.package_name,
        "PRESIGN_ID": header.presign_id,
        "GENERATED_AT": header.generated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "FILE_COUNT": str(len(files)),
        "TOTAL_BYTES": str(sum(file.size for file in files)),
        "URLS_EXPIRE_AT": header.urls_expire_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "URLS_EXPIRE_EPOCH": str(int(header.urls_expire_at.timestamp())),
        "MANIFEST_NAME": manifest_name(paths, header.package_id),
        "CASE_COLLISIONS": str(case_collisions(paths)),
    }
    found: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        found.append(match.group(1))
        return shlex.quote(scalars[match.group(1)])

    # One pass, so a value is never searched for placeholders again.
    text = _SCALAR_RE.sub(substitute, _template())
    if sorted(found) != sorted(scalars):
        raise RuntimeError(f"Download script template placeholders {found} != {sorted(scalars)}.")
    # The script hands URLs to curl in config files as `url = "..."`: no quote, backslash,
    # space or control character may appear (presigned URLs are percent-encoded).
    bad_urls = [file.relative_path for file in files if not _URL_RE.fullmatch(file.url)]
    if bad_urls:
        raise RuntimeError(f"Presigned URLs with unexpected characters for {bad_urls[:5]}.")
    table = "".join(
        f"{index}\t{file.size}\t{file.checksum}\t{file.relative_path}\t{file.url}\n"
        for index, file in enumerate(files, start=1)
    )
    manifest = (
        manifest_tsv if manifest_tsv.endswith("\n") or not manifest_tsv else manifest_tsv + "\n"
    )
    for body, delimiter in (
        (table, "DATASHARING_END_OF_FILE_TABLE"),
        (manifest, "DATASHARING_END_OF_MANIFEST"),
    ):
        if f"\n{delimiter}\n" in f"\n{body}":
            raise Conflict(f"The package's contents contain the line {delimiter}.")
    # The here-document bodies replace whole placeholder lines (an empty table leaves no line);
    # split rather than replace so nothing inside the tables is ever taken for a placeholder.
    head, rest = _split_once(text, "@FILE_TABLE@\n")
    middle, tail = _split_once(rest, "@MANIFEST@\n")
    return "".join((head, table, middle, manifest, tail))


def _split_once(text: str, placeholder: str) -> tuple[str, str]:
    if text.count(placeholder) != 1:
        raise RuntimeError(f"Download script template must contain {placeholder} exactly once.")
    head, _, tail = text.partition(placeholder)
    return head, tail
