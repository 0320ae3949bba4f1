"""Rendering the download script: path safety, quoting, placeholders."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
from pathlib import Path

import pytest

from datasharing.errors import DomainError, domain_error_status
from sharing_app.presign.script import (
    _SAFE_ASCII_PATH_RE,
    ScriptFile,
    ScriptHeader,
    case_collisions,
    check_relative_paths,
    manifest_name,
    relative_path_problem,
    render_download_script,
)

HEADER = ScriptHeader(
    package_id="pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X",
    package_name="PRJ-render",
    presign_id="prs.01JD5V7Q3S8K2M4N6P8R0T2V4Y",
    generated_at=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    urls_expire_at=dt.datetime(2030, 1, 9, 3, 4, 5, tzinfo=dt.UTC),
)


def script_file(path: str, **overrides: object) -> ScriptFile:
    values: dict[str, object] = {
        "relative_path": path,
        "size": 3,
        "md5": "",
        "sha256": "",
        "url": "http://127.0.0.1:9/b/k?X-Amz-Signature=0",
    }
    values.update(overrides)
    return ScriptFile(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("fastq/run/Lane_1/L1/a.fastq.gz", None),
        ("r\u00e9sum\u00e9 'q' $x `y` *.html", None),
        ("-starts-with-dash/ok", None),
        ("..hidden/ok..", None),
        ("", "empty path"),
        ("/abs/path", "absolute path"),
        ("a/../b", "empty, '.' or '..' segment"),
        ("..", "empty, '.' or '..' segment"),
        ("a/.", "empty, '.' or '..' segment"),
        ("a//b", "empty, '.' or '..' segment"),
        ("a/", "empty, '.' or '..' segment"),
        ("a\tb", "control character"),
        ("a\nb", "control character"),
        ("a\x7fb", "control character"),
        (".datasharing-download/x", "uses the script's reserved folder .datasharing-download"),
        (".datasharing-download", "uses the script's reserved folder .datasharing-download"),
        ("x" * 256, "a file or folder name longer than 255 bytes"),
        ("\u00e9" * 128, "a file or folder name longer than 255 bytes"),
    ],
)
def test_relative_path_problems(path: str, problem: str | None) -> None:
    assert relative_path_problem(path) == problem


def test_fast_path_check_never_accepts_what_the_full_check_refuses() -> None:
    pieces = ["a", ".", "..", "", "x" * 255, "x" * 256, "\t", ".datasharing-download", "b.c", "..d"]
    for count in (1, 2, 3):
        for parts in itertools.product(pieces, repeat=count):
            for path in ("/".join(parts), "/" + "/".join(parts)):
                fast = bool(_SAFE_ASCII_PATH_RE.match(path))
                assert fast == (relative_path_problem(path) is None), path


def test_check_relative_paths_names_every_bad_path() -> None:
    with pytest.raises(DomainError) as refused:
        check_relative_paths(["ok/a", "../up", "ok/a/b", "/abs"])
    assert domain_error_status(refused.value) == 409
    assert refused.value.details == {
        "problem_count": 3,
        "paths": {
            "../up": "empty, '.' or '..' segment",
            "/abs": "absolute path",
            "ok/a": "is both a file and a folder of other files",
        },
    }
    check_relative_paths(["ok/a", "ok/b/c", "ok-a/x"])


def test_manifest_name_and_case_collisions() -> None:
    assert manifest_name(["a/manifest.tsv"], "pkg.X") == "manifest.tsv"
    assert manifest_name(["manifest.tsv"], "pkg.X") == "manifest.pkg.X.tsv"
    assert case_collisions(["A/b", "a/B", "c", "C/d"]) == 2


def test_values_are_shell_quoted_and_tables_are_literal(tmp_path: Path) -> None:
    header = ScriptHeader(**{**HEADER.__dict__, "package_name": "it's $(touch pwned) `id`"})
    files = [script_file("$(touch pwned2)/'quoted' \"double\" \\back.txt", md5="0" * 32)]
    script = tmp_path / "s.sh"
    script.write_text(
        render_download_script(header=header, files=files, manifest_tsv="relative_path\n$(x)\n")
    )

    run = subprocess.run(
        ["bash", str(script), "--print-tree"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    assert "Package:  it's $(touch pwned) `id` (pkg.01JD5V7Q3S8K2M4N6P8R0T2V4X)" in run.stdout
    assert "'quoted' \"double\" \\back.txt  (3 B)" in run.stdout
    assert "URLs:     EXPIRED" not in run.stdout
    assert "expire at 2030-01-09T03:04:05Z" in run.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["s.sh"]


def test_rendered_script_has_no_placeholders_left_and_an_empty_package_works(
    tmp_path: Path,
) -> None:
    text = render_download_script(header=HEADER, files=[], manifest_tsv="")
    assert "'@" not in text and "@FILE_TABLE@" not in text and "@MANIFEST@" not in text
    script = tmp_path / "s.sh"
    script.write_text(text)

    run = subprocess.run(
        ["bash", str(script), "--download-path", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert "Files:    0, 0 B (0 bytes)" in run.stdout
    assert "All 0 files are complete and verified" in run.stdout


def test_a_table_line_equal_to_the_here_document_delimiter_is_refused() -> None:
    with pytest.raises(DomainError):
        render_download_script(
            header=HEADER, files=[], manifest_tsv="relative_path\nDATASHARING_END_OF_MANIFEST\n"
        )


@pytest.mark.parametrize(
    ("md5", "sha256", "checksum"),
    [
        ("0123456789abcdef0123456789abcdef", "f" * 64, "md5:0123456789abcdef0123456789abcdef"),
        ("", "f" * 64, f"sha256:{'f' * 64}"),
        ("", "", "-"),
        ("not-an-md5", "short", "-"),
    ],
)
def test_checksum_preference(md5: str, sha256: str, checksum: str) -> None:
    assert script_file("a", md5=md5, sha256=sha256).checksum == checksum
