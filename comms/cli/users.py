"""`comms user add|list|disable|set-role|reset-password`: the console's accounts.

Passwords are asked twice with hidden input, or read from standard input with
--password-stdin (for scripts); they never appear on the command line or in logs.
"""

from __future__ import annotations

import sys

import click
from rich.table import Table

from comms.cli.base import Failed, handles_failures, local_or_dash, out, service_of
from comms.dates import utcnow
from comms.operations import team
from comms.store.models import TeamRole

ROLES = click.Choice([role.value for role in TeamRole])
PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (one line) instead of asking.",
)


@click.group("user")
def user() -> None:
    """Accounts of the team's console (/console)."""


@user.command("add")
@click.argument("username")
@click.option("--name", required=True, help='Full name, shown in the audit log: "Fenna de Wit".')
@click.option("--email", required=True, help="Work address of the member.")
@click.option("--role", type=ROLES, default=TeamRole.EDITOR.value, show_default=True)
@PASSWORD_STDIN
@click.pass_context
@handles_failures
def user_add(
    ctx: click.Context, username: str, name: str, email: str, role: str, password_stdin: bool
) -> None:
    """Add a member (at least 12 characters of password, not containing the username)."""
    password = _password(password_stdin)
    account = team.add(service_of(ctx), username, name, email, TeamRole(role), password, utcnow())
    out.print(f"{account.username}: added ({account.role.value})")


@user.command("list")
@click.pass_context
@handles_failures
def user_list(ctx: click.Context) -> None:
    """Every account with its role, state and last sign-in."""
    accounts = team.listed(service_of(ctx))
    now = utcnow()
    table = Table("username", "name", "role", "state", "last sign-in")
    for account in accounts:
        state = "disabled" if not account.active else "locked" if account.is_locked(now) else "active"
        table.add_row(
            account.username, account.name, account.role.value, state, local_or_dash(account.last_login_at)
        )
    out.print(table if accounts else "no accounts (add one with: comms user add)")


@user.command("disable")
@click.argument("username")
@click.pass_context
@handles_failures
def user_disable(ctx: click.Context, username: str) -> None:
    """Stop an account from signing in; its open sessions end at once."""
    team.disable(service_of(ctx), username, utcnow())
    out.print(f"{username}: disabled")


@user.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLES)
@click.pass_context
@handles_failures
def user_set_role(ctx: click.Context, username: str, role: str) -> None:
    """Change an account's role (its open sessions end)."""
    team.set_role(service_of(ctx), username, TeamRole(role), utcnow())
    out.print(f"{username}: role {role}")


@user.command("reset-password")
@click.argument("username")
@PASSWORD_STDIN
@click.pass_context
@handles_failures
def user_reset_password(ctx: click.Context, username: str, password_stdin: bool) -> None:
    """Set a new password (its open sessions end, a lock-out is lifted)."""
    password = _password(password_stdin)
    team.set_password(service_of(ctx), username, password, utcnow())
    out.print(f"{username}: password changed")


def _password(from_stdin: bool) -> str:
    if not from_stdin:
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise Failed("no password on standard input")
    return line


commands = [user]
