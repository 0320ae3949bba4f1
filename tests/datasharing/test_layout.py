"""The house layout (docs/architecture.md) holds: every task module is discovered, no star
imports, areas are sub-packages rather than filename prefixes, and the layering contracts run."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from datasharing.celery import TASK_PACKAGES
from tests.conftest import ROOT

APPS = ("datasharing", "catalog_app", "packages_app", "sharing_app", "automation_app")


def app_modules() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def test_every_tasks_module_is_in_the_one_discovery_list() -> None:
    found = {
        ".".join(path.relative_to(ROOT).parent.parts)
        for path in app_modules()
        if path.name == "tasks.py"
    }
    assert found == set(TASK_PACKAGES)


def test_no_star_imports_in_app_code() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in app_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)
    ]
    assert offenders == []


def test_areas_are_sub_packages_not_filename_prefixes() -> None:
    """A module named `<area>_<role>.py` beside `<role>.py` means the area wants a folder."""
    roles = {"api", "admin", "urls", "tasks", "models", "services", "selectors"}
    offenders = []
    for path in app_modules():
        match = re.fullmatch(r"([a-z0-9]+)_(\w+)\.py", path.name)
        if match and match.group(2) in roles and (path.parent / f"{match.group(2)}.py").exists():
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_layering_contracts_hold() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
