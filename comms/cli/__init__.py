"""The `comms` command: one module per command group, each a thin front end over the service
layer (comms.operations). Exit codes: 0 ok, 1 validation error, 2 usage error.

Each command is listed here by name, where it lives and its one-line help, so that `comms
--help` and `comms status` import only what they use (tests/test_cli_lazy.py keeps this table
in step with the commands' own names and docstrings)."""

from __future__ import annotations

from comms.cli.base import main

COMMANDS: dict[str, tuple[str, str]] = {
    "agenda": (
        "comms.cli.agenda:agenda",
        "Agenda notices to every province's GS, and the weekly digest for the griffies.",
    ),
    "approve": (
        "comms.cli.editions:approve",
        "Approve a draft edition: it goes out at its planned time (not earlier: send --now).",
    ),
    "audience": (
        "comms.cli.audience:audience",
        "Contacts and segments.",
    ),
    "bounces": (
        "comms.cli.bounces:bounces",
        "The bounce mailbox: DSNs, spam complaints and mail to the unsubscribe address.",
    ),
    "calendar": (
        "comms.cli.calendar:calendar_command",
        "Every coming mailing of every kind: what, for whom, when, its state and what is needed from whom.",
    ),
    "check": (
        "comms.cli.check:check",
        "Validate configuration, templates, audiences and schedules; list every error.",
    ),
    "collect": (
        "comms.cli.sources:collect",
        "Fetch every source into the item ledger; a broken source is reported and skipped (exit 1).",
    ),
    "demo": (
        "comms.cli.demo:demo",
        "Run the newsletter job on sample data: throwaway database, outbox transport.",
    ),
    "discard": (
        "comms.cli.editions:discard",
        "Discard an edition that has not started sending: it does not go out, and no schedule "
        "builds it again (building it by hand makes a new draft revision).",
    ),
    "hold": (
        "comms.cli.editions:hold",
        "Hold a draft or approved edition: it does not go out until it is rebuilt and approved.",
    ),
    "migrate": (
        "comms.cli.migrate:migrate",
        "Bring the database schema up to date (the services do so when they start).",
    ),
    "newsletter": (
        "comms.cli.editions:newsletter",
        "The monthly newsletter for Statenleden.",
    ),
    "preview": (
        "comms.cli.editions:preview",
        "Show an edition as a recipient would see it.",
    ),
    "rebuild": (
        "comms.cli.editions:rebuild",
        "Build an edition again for its own period: a new revision, a draft to approve.",
    ),
    "revisions": (
        "comms.cli.editions:revisions",
        "Every revision of an edition, the newest first: who built and who approved it.",
    ),
    "schedule": (
        "comms.cli.schedule:schedule",
        "The scheduled jobs in schedules/*.toml.",
    ),
    "send": (
        "comms.cli.editions:send",
        "Send an approved edition whose planned time has come, inside its send window; resumes one "
        "that was interrupted, never sends twice.",
    ),
    "serve": (
        "comms.cli.processes:serve",
        "Run the schedules (as leader, or standby), a delivery worker and the web app.",
    ),
    "status": (
        "comms.cli.status:status",
        "Editions by planned send time, with their message counts: those still to go out and those "
        "sent in the last 30 days (--all: every edition).",
    ),
    "suppressions": (
        "comms.cli.suppressions:suppressions",
        "Addresses that must not receive mail (unsubscribes, bounces), managed by hand.",
    ),
    "survey": (
        "comms.cli.survey:survey",
        "Half-yearly evaluation surveys: start a round, remind, results.",
    ),
    "test-send": (
        "comms.cli.editions:test_copy",
        "Send one marked test copy of EDITION (even a draft) to these addresses only; the real send"
        " is not affected.",
    ),
    "user": (
        "comms.cli.users:user",
        "Accounts of the team's console (/console).",
    ),
    "web": (
        "comms.cli.processes:web",
        "Serve the recipients' pages and SendGrid's event webhook (uvicorn).",
    ),
    "worker": (
        "comms.cli.processes:worker",
        "Deliver the editions that are sending; start as many as you like (PostgreSQL scales out).",
    ),
}

main.add_lazy(COMMANDS)

__all__ = ["COMMANDS", "main"]
