"""The communications team's console accounts: add, list, change role, disable, set a
password, and sign in with a lock-out after repeated failures.

Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 profile); a hash made with older
parameters is replaced at the next successful sign-in. Every change to an account and every
sign-in attempt is written to the audit log in the same transaction; passwords never are.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from comms.config import ConsoleConfig
from comms.errors import NotFound, Refused
from comms.problems import Problem, ValidationFailed
from comms.service import Service
from comms.store import audit
from comms.store.audit import AuditAction
from comms.store.models import TeamMember, TeamRole

MIN_PASSWORD_LENGTH = 12
# Who changed an account from the command line: whoever holds the server's shell, not a member.
COMMAND_LINE = "opdrachtregel"
# The actor of a failed sign-in with a username nobody has: what was typed is not logged.
UNKNOWN_USER = "onbekende gebruikersnaam"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,99}$")
_hasher = PasswordHasher()  # Argon2id, 64 MiB, 3 passes, 4 lanes
# Verified against when the username is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("comms: no such account")


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    name: str
    email: str
    role: TeamRole
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    # Changes whenever the password, the role or `active` does: a session carries it, so such a
    # change ends every existing session of the account.
    session_stamp: str

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    @property
    def role_label(self) -> str:
        return self.role.label


class Outcome(Enum):
    SIGNED_IN = "signed-in"
    REFUSED = "refused"  # unknown user, wrong password or disabled: one answer for all three
    LOCKED = "locked"  # temporarily locked; says nothing about whether the password was right


@dataclass(frozen=True, slots=True)
class SignIn:
    outcome: Outcome
    account: Account | None = None  # when signed in
    locked_until: datetime | None = None  # when locked

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SIGNED_IN


def listed(service: Service) -> list[Account]:
    with service.db.session() as session:
        return [_account(m) for m in session.scalars(select(TeamMember).order_by(TeamMember.username))]


def find(service: Service, username: str) -> Account | None:
    with service.db.session() as session:
        member = _member(session, username)
        return _account(member) if member is not None else None


def add(
    service: Service,
    username: str,
    name: str,
    email: str,
    role: TeamRole,
    password: str,
    now: datetime,
    actor: str = COMMAND_LINE,
) -> Account:
    """A new active account; ValidationFailed lists every problem with the input."""
    problems = _username_problems(username) + _password_problems(username, password)
    if not name.strip():
        problems.append(Problem("--name", "a name is required (shown in the audit log)"))
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        problems.append(Problem("--email", str(exc)))
    if problems:
        raise ValidationFailed(problems)
    with service.db.session() as session:
        if _member(session, username) is not None:
            raise Refused(f"user {username} exists already")
        member = TeamMember(
            username=username,
            name=name.strip(),
            email=email,
            role=role.value,
            password_hash=_hasher.hash(password),
            active=True,
            failed_logins=0,
            created_at=now,
        )
        session.add(member)
        audit.record(session, now, actor, AuditAction.USER_ADDED, detail=f"{username} ({role.label})")
        session.flush()
        return _account(member)


def set_role(
    service: Service, username: str, role: TeamRole, now: datetime, actor: str = COMMAND_LINE
) -> Account:
    with service.db.session() as session:
        member = _existing(session, username)
        member.role = role.value
        audit.record(session, now, actor, AuditAction.USER_CHANGED, detail=f"{username}: rol {role.label}")
        return _account(member)


def disable(service: Service, username: str, now: datetime, actor: str = COMMAND_LINE) -> Account:
    """The account can no longer sign in, and its open sessions end."""
    with service.db.session() as session:
        member = _existing(session, username)
        member.active = False
        audit.record(session, now, actor, AuditAction.USER_CHANGED, detail=f"{username}: uitgeschakeld")
        return _account(member)


def set_password(
    service: Service, username: str, password: str, now: datetime, actor: str = COMMAND_LINE
) -> Account:
    """A new password (its open sessions end); a lock-out is lifted with it."""
    problems = _password_problems(username, password)
    if problems:
        raise ValidationFailed(problems)
    with service.db.session() as session:
        member = _existing(session, username)
        member.password_hash = _hasher.hash(password)
        member.failed_logins = 0
        member.locked_until = None
        audit.record(session, now, actor, AuditAction.USER_CHANGED, detail=f"{username}: nieuw wachtwoord")
        return _account(member)


def authenticate(
    service: Service, username: str, password: str, now: datetime, policy: ConsoleConfig
) -> SignIn:
    """Check a sign-in; counts failures and locks the account for `policy.lockout_minutes`
    after `policy.max_failed_logins` wrong passwords in a row."""
    with service.db.session() as session:
        member = _member(session, username)
        if member is None or not member.active:
            _verify(_DUMMY_HASH if member is None else member.password_hash, password)
            actor = UNKNOWN_USER if member is None else member.username
            detail = "" if member is None else "account uitgeschakeld"
            audit.record(session, now, actor, AuditAction.LOGIN_FAILED, detail=detail)
            return SignIn(Outcome.REFUSED)
        if member.locked_until is not None and now < member.locked_until:
            audit.record(session, now, member.username, AuditAction.LOGIN_FAILED, detail="tijdens blokkade")
            return SignIn(Outcome.LOCKED, locked_until=member.locked_until)
        if not _verify(member.password_hash, password):
            return _failed(session, member, now, policy)
        if _hasher.check_needs_rehash(member.password_hash):
            member.password_hash = _hasher.hash(password)
        member.failed_logins = 0
        member.locked_until = None
        member.last_login_at = now
        audit.record(session, now, member.username, AuditAction.LOGIN)
        return SignIn(Outcome.SIGNED_IN, _account(member))


def signed_in_account(service: Service, username: str, session_stamp: str) -> Account | None:
    """The account a session names, if the session still holds: the account is active and its
    password, role and state are what they were at sign-in."""
    account = find(service, username)
    if account is None or not account.active or account.session_stamp != session_stamp:
        return None
    return account


def record_logout(service: Service, username: str, now: datetime) -> None:
    with service.db.session() as session:
        audit.record(session, now, username, AuditAction.LOGOUT)


def _failed(session: Session, member: TeamMember, now: datetime, policy: ConsoleConfig) -> SignIn:
    # Counted in the database, so guesses sent at once cannot each read the same old count.
    session.execute(
        update(TeamMember)
        .where(TeamMember.id == member.id)
        .values(failed_logins=TeamMember.failed_logins + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(member, ["failed_logins"])
    if member.failed_logins < policy.max_failed_logins:
        audit.record(session, now, member.username, AuditAction.LOGIN_FAILED)
        return SignIn(Outcome.REFUSED)
    member.failed_logins = 0  # a fresh count once the lock has passed
    member.locked_until = now + timedelta(minutes=policy.lockout_minutes)
    detail = f"{policy.max_failed_logins} mislukte pogingen; {policy.lockout_minutes} minuten geblokkeerd"
    audit.record(session, now, member.username, AuditAction.LOCKED_OUT, detail=detail)
    return SignIn(Outcome.LOCKED, locked_until=member.locked_until)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _member(session: Session, username: str) -> TeamMember | None:
    return session.scalar(select(TeamMember).where(TeamMember.username == username))


def _existing(session: Session, username: str) -> TeamMember:
    member = _member(session, username)
    if member is None:
        raise NotFound(f"no user {username}")
    return member


def _account(member: TeamMember) -> Account:
    stamp_source = f"{member.username}\0{member.password_hash}\0{member.role}\0{member.active}"
    return Account(
        username=member.username,
        name=member.name,
        email=member.email,
        role=TeamRole(member.role),
        active=member.active,
        locked_until=member.locked_until,
        last_login_at=member.last_login_at,
        session_stamp=hashlib.sha256(stamp_source.encode()).hexdigest()[:24],
    )


def _username_problems(username: str) -> list[Problem]:
    if _USERNAME.match(username):
        return []
    return [
        Problem(
            "USERNAME",
            "use 2-100 lower-case letters, digits, '.', '_' or '-' (starting with a letter or digit)",
        )
    ]


def _password_problems(username: str, password: str) -> list[Problem]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(Problem("password", f"must be at least {MIN_PASSWORD_LENGTH} characters"))
    if username.lower() in password.lower():
        problems.append(Problem("password", "must not contain the username"))
    return problems
