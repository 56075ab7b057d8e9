"""kill -9 in the middle of `comms send`, then `comms send` again: one message per recipient."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from comms.config import load_config
from comms.store.database import Database
from comms.store.models import Message, MessageStatus
from tests.fakes.smtp import FakeSMTPServer

pytestmark = pytest.mark.slow  # 5000 recipients through `comms send` subprocesses, twice

RECIPIENTS = 5000
BATCH = 100
KEY = "nieuwsbrief-2026-12"
HEADER = "e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;rollen;partij;thema's\n"


def comms_process(project: Path, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "comms.cli", "--config", str(project / "comms.toml"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
        **kwargs,  # type: ignore[call-overload]
    )


# The edition has no planned time: the confirmed early send starts it; a plain send resumes it.
SEND_NOW = ("--now", "--yes", "--by", "redacteur")


def run(project: Path, *args: str) -> str:
    process = comms_process(project, *args)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stdout + stderr
    return stdout


@pytest.fixture
def big_project(project: Path) -> Path:
    contacts = project / "audiences" / "contacts"
    for path in contacts.glob("*.csv"):
        path.unlink()
    provinces = ["Utrecht", "Zeeland", "Fryslân", "Limburg"]
    slugs = ["utrecht", "zeeland", "fryslan", "limburg"]
    rows = [
        f"lid{n}@{slugs[n % 4]}.example.org;Lid;;Nummer {n};{provinces[n % 4]};statenlid;;\n"
        for n in range(RECIPIENTS)
    ]
    (contacts / "synthetic.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    config = project / "comms.toml"
    config.write_text(config.read_text().replace("[delivery]\n", f"[delivery]\nbatch_size = {BATCH}\n"))
    return project


def ledger(project: Path) -> dict[str, int]:
    config, _ = load_config(project / "comms.toml")
    assert config is not None
    db = Database(config.database_url, config.base_dir)
    with db.session() as session:
        rows = session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
    db.dispose()
    return dict(rows)


def test_kill_9_mid_send_then_resume_leaves_exactly_one_message_each(big_project: Path, seed: int) -> None:
    run(big_project, "audience", "import")
    run(big_project, "collect")
    run(big_project, "newsletter", "build", "--month", "2026-12")
    run(big_project, "approve", KEY, "--by", "redacteur")

    kill_after = random.Random(seed).randint(1, RECIPIENTS // BATCH // 2)
    context = f"seed {seed}: killed after {kill_after} batches"
    sender = comms_process(big_project, "send", KEY, *SEND_NOW)
    assert sender.stdout is not None
    for _ in range(kill_after):
        line = sender.stdout.readline()
        assert line.startswith("sent "), f"{context}\n{line}{sender.stderr.read()}"  # type: ignore[union-attr]
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=30)

    interrupted = ledger(big_project)
    assert interrupted.get(MessageStatus.SENT, 0) < RECIPIENTS, context  # really stopped half-way
    assert sum(interrupted.values()) == RECIPIENTS, context  # the snapshot was whole before the first message

    output = run(big_project, "send", KEY)

    final = ledger(big_project)
    assert final == {MessageStatus.SENT: RECIPIENTS}, context
    files = sorted((big_project / "outbox" / KEY / "messages").glob("*.eml"))
    recipients = [
        message_from_bytes(path.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec
        for path in files
    ]
    assert len(recipients) == len(set(recipients)) == RECIPIENTS, context
    # Messages claimed but not acknowledged at the kill are delivered again; the outbox
    # replaces their file, so no recipient holds two copies. Report the window's size.
    redelivered = int(output.split(" delivered now")[0].rsplit(" ", 1)[1]) - (
        RECIPIENTS - interrupted.get(MessageStatus.SENT, 0) - interrupted.get(MessageStatus.CLAIMED, 0)
    )
    claimed_at_kill = interrupted.get(MessageStatus.CLAIMED, 0)
    summary = f"{context}; {claimed_at_kill} claimed at the kill, {redelivered} redelivered"
    print(summary)
    assert 0 <= redelivered <= BATCH, summary


def test_kill_9_mid_smtp_send_then_resume_duplicates_only_inside_the_window(
    big_project: Path, smtp_server: FakeSMTPServer, seed: int
) -> None:
    config = big_project / "comms.toml"
    text = config.read_text().replace('transport = "outbox"', 'transport = "smtp"')
    text += f'\n[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\nsecurity = "none"\n'
    config.write_text(text.replace(f"batch_size = {BATCH}\n", "batch_size = 20\n"))
    for args in (
        ["audience", "import"],
        ["collect"],
        ["newsletter", "build", "--month", "2026-12"],
        ["approve", KEY, "--by", "redacteur"],
    ):
        run(big_project, *args)

    kill_at = random.Random(seed).randint(1, RECIPIENTS // 2)
    context = f"seed {seed}: killed after {kill_at} arrivals"
    arrived = smtp_server.when_received(kill_at)
    sender = comms_process(big_project, "send", KEY, *SEND_NOW)
    assert arrived.wait(timeout=300), f"{context}: the send never reached the kill point"
    sender.send_signal(signal.SIGKILL)
    sender.wait(timeout=30)
    interrupted = ledger(big_project)
    assert interrupted.get(MessageStatus.SENT, 0) < RECIPIENTS, context

    run(big_project, "send", KEY)

    assert ledger(big_project) == {MessageStatus.SENT: RECIPIENTS}, context
    received = smtp_server.count_by_recipient()
    assert len(received) == RECIPIENTS, context  # nobody skipped
    duplicates = sum(n - 1 for n in received.values())
    claimed_at_kill = interrupted.get(MessageStatus.CLAIMED, 0)
    summary = f"{context}; {claimed_at_kill} claimed at the kill; {duplicates} duplicates"
    print(summary)
    # Only messages the server accepted in the batch that was in flight can arrive twice.
    assert duplicates <= claimed_at_kill <= 20, summary
