"""Console accounts in the service layer: Argon2id hashes, the lock-out on a fixed clock, and the
session stamp that ends sessions when an account changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from comms.config import ConsoleConfig, load_config
from comms.errors import Refused
from comms.operations import team
from comms.operations.team import Outcome
from comms.problems import ValidationFailed
from comms.service import Service
from comms.store.models import AuditEvent, TeamMember, TeamRole

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
POLICY = ConsoleConfig(max_failed_logins=3, lockout_minutes=15)


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    config, problems = load_config(project / "comms.toml")
    assert config is not None, problems
    opened = Service.open(config)
    yield opened
    opened.db.dispose()


def add(service: Service, username: str = "fenna", role: TeamRole = TeamRole.EDITOR) -> team.Account:
    return team.add(service, username, "Fenna de Wit", f"{username}@ipo.example.org", role, PASSWORD, NOW)


def stored_hash(service: Service, username: str) -> str:
    with service.db.session() as session:
        return session.scalars(select(TeamMember.password_hash).where(TeamMember.username == username)).one()


def actions(service: Service) -> list[tuple[str, str]]:
    with service.db.session() as session:
        return [(e.actor, e.action) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_the_password_is_stored_as_an_argon2id_hash(service: Service) -> None:
    add(service)
    stored = stored_hash(service, "fenna")
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert team.authenticate(service, "fenna", PASSWORD, NOW, POLICY).succeeded
    assert actions(service) == [("opdrachtregel", "user-added"), ("fenna", "login")]


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("fenna", "short pass", "at least 12 characters"),
        ("fenna", "Fenna-is-my-password", "must not contain the username"),
        ("Fenna de Wit", PASSWORD, "lower-case letters"),
    ],
)
def test_a_weak_password_or_a_bad_username_is_refused(
    service: Service, username: str, password: str, reason: str
) -> None:
    with pytest.raises(ValidationFailed, match=reason):
        team.add(service, username, "Fenna", "fenna@ipo.example.org", TeamRole.EDITOR, password, NOW)
    assert team.listed(service) == []


def test_a_username_is_taken_once(service: Service) -> None:
    add(service)
    with pytest.raises(Refused):
        add(service)


def test_an_outdated_hash_is_replaced_at_sign_in(service: Service) -> None:
    from argon2 import PasswordHasher

    add(service)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with service.db.session() as session:
        session.scalars(select(TeamMember)).one().password_hash = weak
    assert team.authenticate(service, "fenna", PASSWORD, NOW, POLICY).succeeded
    assert stored_hash(service, "fenna") != weak
    assert "m=65536" in stored_hash(service, "fenna")


def test_unknown_user_and_wrong_password_get_the_same_answer(service: Service) -> None:
    add(service)
    unknown = team.authenticate(service, "nobody", PASSWORD, NOW, POLICY)
    wrong = team.authenticate(service, "fenna", "not the password", NOW, POLICY)
    assert unknown == wrong == team.SignIn(Outcome.REFUSED)
    assert ("onbekende gebruikersnaam", "login-failed") in actions(service)  # not what was typed


def test_repeated_failures_lock_the_account_until_the_lock_expires(service: Service) -> None:
    add(service)
    outcomes = [team.authenticate(service, "fenna", f"wrong {i}", NOW, POLICY).outcome for i in range(3)]
    assert outcomes == [Outcome.REFUSED, Outcome.REFUSED, Outcome.LOCKED]

    during = team.authenticate(service, "fenna", PASSWORD, NOW + timedelta(minutes=14, seconds=59), POLICY)
    assert during.outcome is Outcome.LOCKED  # even the right password, without saying it was right
    assert during.locked_until == NOW + timedelta(minutes=15)

    after = team.authenticate(service, "fenna", PASSWORD, NOW + timedelta(minutes=15), POLICY)
    assert after.succeeded
    assert [a for _, a in actions(service)].count("locked-out") == 1


def test_a_successful_sign_in_resets_the_count(service: Service) -> None:
    add(service)
    for attempt in ("wrong 1", "wrong 2", PASSWORD, "wrong 3", "wrong 4"):
        team.authenticate(service, "fenna", attempt, NOW, POLICY)
    assert team.authenticate(service, "fenna", PASSWORD, NOW, POLICY).succeeded


@pytest.mark.parametrize(
    "change",
    [
        lambda s: team.disable(s, "fenna", NOW),
        lambda s: team.set_role(s, "fenna", TeamRole.APPROVER, NOW),
        lambda s: team.set_password(s, "fenna", "another long password", NOW),
    ],
    ids=["disable", "role", "password"],
)
def test_an_account_change_ends_its_sessions(service: Service, change: object) -> None:
    stamp = add(service).session_stamp
    assert team.signed_in_account(service, "fenna", stamp) is not None
    change(service)  # type: ignore[operator]
    assert team.signed_in_account(service, "fenna", stamp) is None
    assert actions(service)[-1][1] == "user-changed"


def test_a_disabled_account_cannot_sign_in(service: Service) -> None:
    add(service)
    team.disable(service, "fenna", NOW)
    assert team.authenticate(service, "fenna", PASSWORD, NOW, POLICY).outcome is Outcome.REFUSED


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (TeamRole.EDITOR, TeamRole.EDITOR, True),
        (TeamRole.EDITOR, TeamRole.APPROVER, False),
        (TeamRole.APPROVER, TeamRole.APPROVER, True),
        (TeamRole.APPROVER, TeamRole.ADMIN, False),
        (TeamRole.ADMIN, TeamRole.APPROVER, True),
    ],
)
def test_each_role_includes_the_ones_below(role: TeamRole, needed: TeamRole, allowed: bool) -> None:
    assert role.includes(needed) is allowed
