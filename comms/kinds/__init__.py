"""Every kind of mailing the service sends, registered in one place.

A module in this package that defines `KIND` (an instance of a `MailingKind` subclass) is
found by itself: adding a kind is one module here, one template folder and one schedule file
(README, "Adding a mailing kind"). A kind defined elsewhere (a plugin, a test) is added with
`register`, or for the length of a `with` block with `registered`.

An unknown kind is an error (`UnknownKind`), never quietly the newsletter.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager

from comms.errors import NotFound
from comms.kinds.base import (
    Approval,
    BuildOutcome,
    BuildRequest,
    DueBuild,
    MailingKind,
    PeriodicKind,
    PlannedMailing,
    Step,
    TriggeredKind,
)

__all__ = [
    "Approval",
    "BuildOutcome",
    "BuildRequest",
    "DueBuild",
    "MailingKind",
    "PeriodicKind",
    "PlannedMailing",
    "Step",
    "TriggeredKind",
    "UnknownKind",
    "all_keys",
    "discover",
    "every",
    "find",
    "labels",
    "register",
    "registered",
    "reset",
]


class UnknownKind(NotFound):
    def __init__(self, key: str, known: list[str]):
        super().__init__(f"unknown mailing kind {key!r} (known: {', '.join(known) or 'none'})")
        self.key = key


_kinds: dict[str, MailingKind] = {}
_discovered = False


def discover() -> None:
    """Import every module of this package and register the `KIND` each defines (again)."""
    global _discovered
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        kind = getattr(importlib.import_module(f"{__name__}.{module.name}"), "KIND", None)
        if isinstance(kind, MailingKind):
            _kinds[kind.key] = kind
    _discovered = True


def _registry() -> dict[str, MailingKind]:
    if not _discovered:
        discover()
    return _kinds


def every() -> tuple[MailingKind, ...]:
    """Every kind, in the order the preference centre lists them."""
    return tuple(sorted(_registry().values(), key=lambda k: (k.listing_order, k.key)))


def all_keys() -> tuple[str, ...]:
    return tuple(k.key for k in every())


def labels() -> dict[str, str]:
    """Key → the name a recipient knows the kind by, in listing order."""
    return {k.key: k.label for k in every()}


def find(key: str) -> MailingKind:
    """The kind with this key; UnknownKind (a NotFound) names the known ones."""
    found = _registry().get(key)
    if found is None:
        raise UnknownKind(key, list(all_keys()))
    return found


def register(kind: MailingKind) -> None:
    registry = _registry()
    if kind.key in registry and registry[kind.key] is not kind:
        raise ValueError(f"a mailing kind {kind.key!r} is registered already")
    registry[kind.key] = kind


def reset() -> None:
    """Forget every kind: the next use discovers them again (after a test changed the package)."""
    global _discovered
    _kinds.clear()
    _discovered = False


@contextmanager
def registered(kind: MailingKind) -> Iterator[MailingKind]:
    """The kind is known inside the block only (tests, a one-off script)."""
    register(kind)
    try:
        yield kind
    finally:
        _registry().pop(kind.key, None)
