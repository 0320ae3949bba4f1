"""`./cli` installs on its own into a fresh virtual environment: the console script works there,
Django is not pulled in, and the distribution requires only httpx, click and the manifest formats
package beside it (`./formats`), which requires nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UV = Path(sys.executable).parent / "uv"


def clean_env() -> dict[str, str]:
    """No trace of the project's virtual environment or source tree."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PYTHON", "UV_PROJECT"}
    }


def run(command: list[str], *, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with nothing but `./cli` (and what it declares) installed."""
    root = tmp_path_factory.mktemp("cli-venv")
    venv = root / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    assert created.returncode == 0, created.stderr
    installed = run(
        [str(UV), "pip", "install", "--python", str(venv / "bin" / "python"), str(ROOT / "cli")],
        cwd=root,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def test_console_script_runs_in_a_fresh_environment(cli_venv: Path, tmp_path: Path) -> None:
    result = run([str(cli_venv / "bin" / "data-sharing-tool"), "--help"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for verb in ("generate-package", "push-package", "presign-package", "list-push-jobs"):
        assert verb in result.stdout


def test_django_is_not_installed_alongside(cli_venv: Path, tmp_path: Path) -> None:
    result = run([str(cli_venv / "bin" / "python"), "-c", "import django"], cwd=tmp_path)
    assert result.returncode != 0
    assert "No module named 'django'" in result.stderr


def requirement_names(requires: list[str]) -> set[str]:
    return {
        re.split(r"[<>=!~;\[\s]", requirement, maxsplit=1)[0].lower() for requirement in requires
    }


def test_distribution_requires_only_httpx_click_and_the_formats(
    cli_venv: Path, tmp_path: Path
) -> None:
    script = (
        "import importlib.metadata as m, json;"
        "d = m.distribution('data-sharing-tool');"
        "f = m.distribution('data-sharing-formats');"
        "print(json.dumps({'requires': d.requires or [], 'origin': str(d.locate_file('')),"
        " 'formats_requires': f.requires or []}))"
    )
    result = run([str(cli_venv / "bin" / "python"), "-c", script], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    # The distribution the fresh environment sees is its own, not the project's.
    assert found["origin"].startswith(str(cli_venv))
    assert requirement_names(found["requires"]) == {"httpx", "click", "data-sharing-formats"}
    assert found["formats_requires"] == []


def test_the_formats_package_came_along(cli_venv: Path, tmp_path: Path) -> None:
    """`pip install ./cli` pulled in the package the manifests are read with."""
    script = "from data_sharing_formats.manifests import read_lims_manifest; print('ok')"
    result = run([str(cli_venv / "bin" / "python"), "-c", script], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
