"""The errors comms raises on purpose, under one base.

A front end catches `CommsError` and shows its message (no traceback); anything else is a
bug. The subclasses say what kind of thing went wrong, so a caller can treat a family alike:
every `NotFound` is a 404 on a page and exit code 1 on the command line.

Invalid input the user can correct is `problems.ValidationFailed` (a `CommsError` too): it
carries every problem found, with file, line and reason, reported together.
"""

from __future__ import annotations


class CommsError(Exception):
    """Something comms refuses or cannot do, in words the person who asked can act on."""


class NotFound(CommsError, LookupError):
    """The edition, survey round or mailing kind asked for does not exist."""


class Refused(CommsError):
    """The thing exists, but its state does not allow this (a sent edition is never rebuilt)."""


class ConfigurationError(CommsError):
    """The configuration or environment is missing something this needs (a secret, a key)."""


class Unavailable(CommsError):
    """A system comms depends on cannot be used now (the mail relay, the database); retry later."""


class Rejected(CommsError):
    """Input from outside that is not trusted: a forged or expired link, an unsigned webhook post."""


class WorkflowRefused(Refused):
    """A step of an edition's workflow that is not allowed now or not by this person.

    str() is English, for the command line and the logs; `nl` is the same in a Dutch sentence,
    for the team's console.
    """

    def __init__(self, message: str, nl: str) -> None:
        super().__init__(message)
        self.nl = nl


class NotYetDue(WorkflowRefused):
    """A send before the edition's planned time, outside its send window, or without a planned
    time: only the separate, confirmed early send (`comms send --now`) may do that."""


class NeedsApproval(WorkflowRefused):
    """The edition is not approved (or was changed since): it cannot be sent."""


class FourEyesRefused(WorkflowRefused):
    """With [approval] four_eyes on, whoever built or changed the current revision approves it."""


class NotPermitted(WorkflowRefused):
    """The person named is no active team member, or their role does not allow the step."""
