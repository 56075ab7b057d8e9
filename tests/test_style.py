"""The code stays clean, so CI fails on a lint, layering or type error, not only on a failing test:
ruff (lint and format), import-linter (the layers in pyproject.toml) and mypy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        pytest.param("ruff", ["check", "."], id="ruff-check"),
        pytest.param("ruff", ["format", "--check", "."], id="ruff-format"),
        pytest.param("lint-imports", ["--no-cache"], id="import-linter"),
        pytest.param("mypy", [], id="mypy"),  # files and settings: [tool.mypy] in pyproject.toml
    ],
)
def test_the_tool_finds_nothing(tool: str, args: list[str]) -> None:
    found = shutil.which(tool, path=str(Path(sys.executable).parent)) or shutil.which(tool)
    assert found, f"{tool} is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([found, *args], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
