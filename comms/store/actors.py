"""Who acts on an edition: a team member's username, or a schedule ("schema:<name>").

Both are stored as plain text (Edition.built_by, EditionRevision.built_by, AuditEvent.actor);
these helpers keep the one convention for a schedule in one place.
"""

from __future__ import annotations

SCHEDULE_PREFIX = "schema:"
UNKNOWN_ACTOR = "onbekend"  # a step nobody was named for (no console accounts yet, a test, a script)


def schedule_actor(name: str) -> str:
    """The actor of a schedule's steps: 'schema:newsletter'."""
    return f"{SCHEDULE_PREFIX}{name}"


def is_schedule(actor: str | None) -> bool:
    """A schedule acted, not a person (it does not count for the four-eyes rule)."""
    return actor is not None and actor.startswith(SCHEDULE_PREFIX)
