"""Reading the TOML files the team edits, with errors that name file and line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from comms.problems import Problem


def read_toml(path: Path) -> tuple[str, dict[str, Any] | None, list[Problem]]:
    """(text, data, problems): data is None when the file cannot be read or parsed."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return "", None, [Problem(where, "file not found")]
    except OSError as exc:
        return "", None, [Problem(where, f"cannot read the file: {exc.strerror or exc}")]
    except UnicodeDecodeError:
        return "", None, [Problem(where, "cannot read the file: it is not UTF-8 text")]
    try:
        return text, tomllib.loads(text), []
    except tomllib.TOMLDecodeError as exc:
        return text, None, [syntax_problem(where, text, exc)]


def syntax_problem(where: str, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
    """tomllib puts the place in its message: '... (at line 3, column 5)'."""
    message = str(exc)
    if found := re.search(r" \(at line (\d+), column (\d+)\)$", message):
        reason = f"not valid TOML: {message[: found.start()]} (column {found[2]})"
        return Problem(where, reason, line=int(found[1]))
    if message.endswith(" (at end of document)"):
        return Problem(where, f"not valid TOML: {message}", line=text.count("\n") + 1)
    return Problem(where, f"not valid TOML: {message}")
