"""The formats the service and the CLI share are defined once, in `data_sharing_formats`, which
depends on nothing; the service reads manifests with it and never imports the CLI."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

from data_sharing_formats import identifiers
from data_sharing_formats.columns import (
    LIMS_COLUMNS,
    LIMS_OPTIONAL_COLUMNS,
    WORKFLOW_COLUMNS,
    WORKFLOW_OPTIONAL_COLUMNS,
)
from data_sharing_formats.manifests import read_lims_manifest, read_workflow_manifest

from tests.conftest import ROOT

FORMATS = ROOT / "formats" / "src" / "data_sharing_formats"
SKIPPED_DIRS = {".venv", "var", "node_modules", "migrations", "__pycache__", ".git"}


def python_files(*, include_cli: bool) -> Iterator[Path]:
    """The project's own modules (tests left out; the CLI's on request)."""
    for path in sorted(ROOT.rglob("*.py")):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED_DIRS or path.relative_to(ROOT).parts[0] == "tests":
            continue
        if not include_cli and path.relative_to(ROOT).parts[0] == "cli":
            continue
        yield path


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def test_the_server_does_not_import_the_cli() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files(include_cli=False)
        if any(m.split(".")[0] == "data_sharing_tool" for m in imported_modules(path))
    ]
    assert offenders == []


def test_the_formats_package_imports_only_the_standard_library() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__", "data_sharing_formats"}
    imported = {m.split(".")[0] for path in FORMATS.rglob("*.py") for m in imported_modules(path)}
    assert imported - allowed == set()


def string_sequences(path: Path) -> Iterator[tuple[int, set[str]]]:
    """(line, strings) of every tuple or list literal made of strings."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Tuple | ast.List) and node.elts:
            values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            if all(isinstance(v, str) for v in values):
                yield node.lineno, {str(v) for v in values}


def definitions(path: Path) -> Iterator[tuple[int, str]]:
    """(line, name) of every module-level or nested assignment and function definition."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield node.lineno, target.id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            yield node.lineno, node.target.id
        elif isinstance(node, ast.FunctionDef):
            yield node.lineno, node.name


def defined_elsewhere(names: set[str], home: Path) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} {name}"
        for path in python_files(include_cli=True)
        if path != home
        for line, name in definitions(path)
        if name in names
    ]


def test_the_mart_column_lists_are_defined_once() -> None:
    """Only `data_sharing_formats.columns` defines the LIMS and workflow column lists, and no
    other module spells most of one out again; the CLI and the service import them."""
    names = {
        "LIMS_COLUMNS",
        "LIMS_OPTIONAL_COLUMNS",
        "WORKFLOW_COLUMNS",
        "WORKFLOW_OPTIONAL_COLUMNS",
    }
    assert defined_elsewhere(names, FORMATS / "columns.py") == []
    copies = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in python_files(include_cli=True)
        if path != FORMATS / "columns.py"
        for line, strings in string_sequences(path)
        if len(strings & set(LIMS_COLUMNS)) >= 0.8 * len(LIMS_COLUMNS)
        or len(strings & set(WORKFLOW_COLUMNS)) >= 0.8 * len(WORKFLOW_COLUMNS)
    ]
    assert copies == []


def test_the_identifier_patterns_are_defined_once() -> None:
    names = {
        name
        for name, value in vars(identifiers).items()
        if name.endswith("_RE") or name == "base_library_id"
    }
    assert {"IDENTIFIER_RE", "PORTAL_RUN_ID_RE", "base_library_id"} <= names
    assert defined_elsewhere(names, FORMATS / "identifiers.py") == []


def test_the_manifests_accept_every_mart_column(tmp_path: Path) -> None:
    """A full LIMS or workflow mart export is a manifest as it is: no column is unknown."""
    lims_path = tmp_path / "lims.csv"
    lims_path.write_text(
        ",".join((*LIMS_COLUMNS, *LIMS_OPTIONAL_COLUMNS))
        + "\n"
        + ",".join("L2400101" if c == "library_id" else "" for c in LIMS_COLUMNS)
        + "," * len(LIMS_OPTIONAL_COLUMNS)
        + "\n"
    )
    lims = read_lims_manifest(lims_path)
    assert (lims.library_ids, lims.warnings) == (["L2400101"], [])
    workflow_path = tmp_path / "workflows.csv"
    values = {"portal_run_id": "20241114aabbccdd", "library_id": "L2400101"}
    workflow_path.write_text(
        ",".join((*WORKFLOW_COLUMNS, *WORKFLOW_OPTIONAL_COLUMNS))
        + "\n"
        + ",".join(values.get(c, "") for c in (*WORKFLOW_COLUMNS, *WORKFLOW_OPTIONAL_COLUMNS))
        + "\n"
    )
    workflows = read_workflow_manifest(workflow_path, lims=lims)
    assert (workflows.portal_run_ids, workflows.warnings) == (["20241114aabbccdd"], [])
