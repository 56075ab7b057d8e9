"""The `comms` command: one module per command group, each a thin front end over the service
layer (comms.operations). Exit codes: 0 ok, 1 validation error, 2 usage error."""

from __future__ import annotations

from comms.cli import (
    agenda,
    audience,
    bounces,
    calendar,
    check,
    demo,
    editions,
    processes,
    schedule,
    sources,
    suppressions,
    survey,
    users,
)
from comms.cli.base import main

for _module in (
    check,
    audience,
    sources,
    editions,
    suppressions,
    bounces,
    agenda,
    survey,
    schedule,
    calendar,
    processes,
    demo,
    users,
):
    for _command in _module.commands:
        main.add_command(_command)

__all__ = ["main"]
