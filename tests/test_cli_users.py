"""`comms user …` through click's runner, on the project's database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from comms.cli import main

PASSWORD = "correct horse battery staple"


def comms(project: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(project / "comms.toml"), *args], input=input)


def test_user_add_asks_the_password_twice_and_lists_the_member(project: Path) -> None:
    added = comms(
        project,
        *(
            "user",
            "add",
            "fenna",
            "--name",
            "Fenna de Wit",
            "--email",
            "fenna@ipo.example.org",
            "--role",
            "approver",
        ),
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert added.exit_code == 0, added.output
    assert "fenna: added (approver)" in added.output
    assert PASSWORD not in added.output

    listed = comms(project, "user", "list")
    assert "Fenna de Wit" in listed.output
    assert "approver" in listed.output
    assert "active" in listed.output


def test_user_add_reads_a_script_password_from_stdin(project: Path) -> None:
    added = comms(
        project,
        *(
            "user",
            "add",
            "joris",
            "--name",
            "Joris Bakker",
            "--email",
            "joris@ipo.example.org",
            "--password-stdin",
        ),
        input=f"{PASSWORD}\n",
    )
    assert added.exit_code == 0, added.output
    assert comms(project, "user", "set-role", "joris", "admin").output == "joris: role admin\n"
    changed = comms(
        project, "user", "reset-password", "joris", "--password-stdin", input="another good password\n"
    )
    assert changed.output == "joris: password changed\n"
    assert comms(project, "user", "disable", "joris").exit_code == 0
    listed = comms(project, "user", "list").output
    assert "admin" in listed
    assert "disabled" in listed
    assert comms(project, "user", "disable", "nobody").exit_code == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [("too short", "at least 12 characters"), ("my name is aylin!!", "must not contain the username")],
)
def test_user_add_refuses_a_weak_password(project: Path, password: str, message: str) -> None:
    added = comms(
        project,
        *("user", "add", "aylin", "--name", "Aylin", "--email", "aylin@ipo.example.org", "--password-stdin"),
        input=f"{password}\n",
    )
    assert added.exit_code == 1
    assert message in added.output
    assert "no accounts" in comms(project, "user", "list").output
