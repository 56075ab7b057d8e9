"""Who may take a step of an edition's workflow: the same rules for the CLI (`--by`) and the
console (the signed-in member).

While no console account exists (a fresh installation, the demo) any name is accepted. Once
one does, the name must be an active member whose role allows the step. A schedule
("schema:<name>") acts for itself: it only does what its file says.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comms.errors import FourEyesRefused, NotPermitted
from comms.store.actors import is_schedule
from comms.store.audit import AuditAction
from comms.store.models import Edition, TeamMember, TeamRole

# The role a step needs at least; a step not listed needs an editor.
_NEEDS = {
    AuditAction.APPROVE: TeamRole.APPROVER,
    AuditAction.DISCARD: TeamRole.APPROVER,
    AuditAction.SEND_EARLY: TeamRole.APPROVER,
}


def needed_role(action: AuditAction) -> TeamRole:
    return _NEEDS.get(action, TeamRole.EDITOR)


def allows(role: TeamRole, action: AuditAction) -> bool:
    """Each role includes the one before: an admin may do what an approver may."""
    return role.includes(needed_role(action))


def check_actor(session: Session, by: str, action: AuditAction) -> None:
    """NotPermitted unless `by` may take this step (see the module's rules)."""
    if is_schedule(by) or not session.scalar(select(func.count(TeamMember.id))):
        return
    name = by.strip()
    if not name:
        raise NotPermitted(
            "say who does this (--by USERNAME or COMMS_USER): console accounts exist",
            "Het is niet bekend wie dit doet.",
        )
    member = session.scalars(select(TeamMember).where(TeamMember.username == name)).first()
    if member is None or not member.active:
        raise NotPermitted(
            f"{name!r} is no active team account (see comms user list)",
            f"{name} heeft geen actief account voor de console.",
        )
    role = TeamRole(member.role)
    if not allows(role, action):
        needed = needed_role(action)
        raise NotPermitted(
            f"{name} is {role}; {action} needs the role {needed} or higher",
            f"Als {role.label} mag {member.name} dit niet: het vraagt de rol {needed.label}.",
        )


def check_four_eyes(edition: Edition, by: str) -> None:
    """FourEyesRefused when `by` built or changed the current revision. A schedule's build is
    no person's: anyone may approve it."""
    builder = edition.built_by
    if builder is None or is_schedule(builder) or builder.strip() != by.strip():
        return
    raise FourEyesRefused(
        f"{by} built or changed revision {edition.revision} of {edition.key}; "
        "with four eyes on, someone else approves it",
        f"U hebt versie {edition.revision} zelf opgebouwd of gewijzigd. "
        "Iemand anders moet deze versie goedkeuren (vier-ogenprincipe).",
    )
