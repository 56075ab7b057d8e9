"""The commands as the communications team uses them, on a copy of the sample project."""

from __future__ import annotations

import importlib
import re
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from comms.cli import main
from tests.fakes.feeds import FeedServer

REQUIRED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


def comms(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(project / "comms.toml"), *args], catch_exceptions=False)


# The edition built by hand has no planned time: it goes out with the confirmed early send.
SEND_NOW = ("--now", "--yes", "--by", "redacteur")


def emls(project: Path, key: str = "nieuwsbrief-2026-12") -> list[Path]:
    return sorted((project / "outbox" / key / "messages").glob("*.eml"))


@pytest.mark.slow
def test_demo_writes_one_valid_message_per_statenlid(project: Path) -> None:
    result = comms(project, "demo", "--outbox", str(project / "outbox"))
    assert result.exit_code == 0, result.output

    files = emls(project)
    assert len(files) == 572  # every Statenlid of the twelve provinces, once
    recipients = set()
    for path in files:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message.get_content_type() == "multipart/alternative"
        assert all(message[h] for h in REQUIRED_HEADERS), path
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_body(("plain",)).get_content().strip()
        recipients.add(message["To"].addresses[0].addr_spec)
    assert len(recipients) == 572
    index = (project / "outbox" / "index.html").read_text(encoding="utf-8")
    link = r'href="(nieuwsbrief-2026-12/preview/[^"]+)">([^<]+)</a> \((\d+) ontvangers?\)'
    previews = re.findall(link, index)
    # one preview per distinct selection of blocks: province news (5 provinces have some) × AV ×
    # the themes of each Statenlid's export row (nobody in the sample chose their own yet)
    assert len(previews) == 127
    assert sum(int(count) for _, _, count in previews) == 572
    assert all((project / "outbox" / path).exists() for path, _, _ in previews)
    assert "Fryslân, AV-lid, thema&#x27;s: Wonen &amp; Bereikbaarheid" in {label for _, label, _ in previews}
    assert "572 messages" in result.output


def _build_and_approve(project: Path) -> None:
    for args in (["audience", "import"], ["collect"]):
        assert comms(project, *args).exit_code == 0
    build = comms(project, "newsletter", "build", "--month", "2026-12")
    assert build.exit_code == 0, build.output
    assert comms(project, "approve", "nieuwsbrief-2026-12", "--by", "hoofdredacteur").exit_code == 0


def test_send_on_a_sent_edition_sends_nothing(project: Path) -> None:
    _build_and_approve(project)
    first = comms(project, "send", "nieuwsbrief-2026-12", *SEND_NOW)
    assert first.exit_code == 0, first.output
    before = {p: p.stat().st_mtime_ns for p in emls(project)}

    again = comms(project, "send", "nieuwsbrief-2026-12", *SEND_NOW)

    assert again.exit_code == 0
    assert "already sent; nothing sent again" in again.output
    assert {p: p.stat().st_mtime_ns for p in emls(project)} == before
    status = comms(project, "status", "nieuwsbrief-2026-12")
    assert re.search(r"nieuwsbrief-2026-12 .*sent", status.output)


def test_an_unapproved_edition_is_not_sent(project: Path) -> None:
    for args in (
        ["audience", "import"],
        ["collect"],
        ["newsletter", "build", "--month", "2026-12"],
    ):
        comms(project, *args)
    result = comms(project, "send", "nieuwsbrief-2026-12", *SEND_NOW)
    assert result.exit_code == 1
    assert (
        "is a draft (revision 1) that nobody approved yet: comms approve nieuwsbrief-2026-12" in result.output
    )
    assert emls(project) == []


def test_an_edition_without_items_is_held_and_reported(project: Path) -> None:
    comms(project, "audience", "import")
    result = comms(project, "newsletter", "build", "--month", "2026-12")  # nothing collected
    assert result.exit_code == 1
    assert "held: nieuwsbrief-2026-12: no new items since" in result.output
    send = comms(project, "send", "nieuwsbrief-2026-12", *SEND_NOW)
    assert send.exit_code == 1
    assert "nieuwsbrief-2026-12 is held: no new items since" in send.output


def test_preview_for_a_contact_is_personal(project: Path) -> None:
    _build_and_approve(project)
    contact = "sjoukje.hoekstra-dijkstra@fryslan.example.org"
    result = comms(project, "preview", "nieuwsbrief-2026-12", "--contact", contact, "--text")
    assert result.exit_code == 0, result.output
    assert "Beste Sjoukje," in result.output
    assert "Nieuws uit Fryslân" in result.output or "NIEUWS UIT FRYSLÂN" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["send"], 2, "Missing argument 'EDITION'"),
        (["newsletter", "build", "--month", "2026-13"], 2, "not a month: '2026-13'"),
        (["send", "nieuwsbrief-2030-01"], 1, "no edition 'nieuwsbrief-2030-01'"),
        (["frobnicate"], 2, "No such command 'frobnicate'"),
    ],
)
def test_exit_codes(project: Path, args: list[str], code: int, message: str) -> None:
    result = comms(project, *args)
    assert result.exit_code == code
    assert message in result.output


def test_missing_secret_key_stops_the_send_with_a_clear_message(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build_and_approve(project)
    monkeypatch.delenv("COMMS_SECRET_KEY")
    result = comms(project, "send", "nieuwsbrief-2026-12", *SEND_NOW)
    assert result.exit_code == 1
    assert "COMMS_SECRET_KEY is not set" in result.output
    assert emls(project) == []


def test_check_lists_every_error_at_once(project: Path) -> None:
    mjml = project / "templates" / "newsletter" / "email.mjml"
    mjml.write_text(mjml.read_text().replace("{{ edition.subject }}", "{{ edition.subjekt }}"))
    utrecht = project / "audiences" / "contacts" / "utrecht.csv"
    lines = utrecht.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("@", "@@", 1)
    lines[3] = lines[3].replace(",Utrecht,", ",Utrek,")
    utrecht.write_text("\n".join(lines) + "\n", encoding="utf-8")
    schedule = project / "schedules" / "newsletter.toml"
    schedule.write_text(schedule.read_text().replace("0 9 1-7 * thu", "0 25 1-7 * thu"))

    result = comms(project, "check")

    assert result.exit_code == 1
    output = result.output
    assert "templates/newsletter/email.mjml, line 10: undefined variable:" in output
    assert "utrecht.csv, row 3" in output and "invalid email address" in output
    assert "utrecht.csv, row 4" in output and "unknown province 'Utrek'" in output
    assert "schedules/newsletter.toml: [send] cron '0 25 1-7 * thu' is not valid" in output
    assert "error(s) in" in output


def test_check_passes_on_the_repository_as_shipped(project: Path) -> None:
    result = comms(project, "check")
    assert result.exit_code == 0, result.output


def test_bad_rows_are_listed_and_the_good_rows_imported(project: Path) -> None:
    zeeland = project / "audiences" / "contacts" / "zeeland.csv"
    text = zeeland.read_text(encoding="utf-8-sig")
    header, first, second, *rest = text.splitlines()
    broken = [first.replace("@", " at ", 1), second.replace(";gedeputeerde", ";wethouder", 1)]
    duplicate = rest[0]
    zeeland.write_text("\ufeff" + "\n".join([header, *broken, *rest, duplicate]) + "\n", encoding="utf-8")

    result = comms(project, "audience", "import")

    assert result.exit_code == 1
    assert "zeeland.csv, row 2" in result.output and "invalid email address" in result.output
    assert "zeeland.csv, row 3" in result.output and "unknown role 'wethouder'" in result.output
    assert f"zeeland.csv, row {len(rest) + 4}" in result.output and "duplicate of row 4" in result.output
    assert "707 contacts from 13 file(s)" in result.output  # 709 + 1 duplicate - 3 bad rows


def test_a_file_missing_a_column_stops_the_import_and_changes_nothing(project: Path) -> None:
    assert comms(project, "audience", "import").exit_code == 0
    limburg = project / "audiences" / "contacts" / "limburg.csv"
    lines = limburg.read_bytes().decode("cp1252").splitlines()
    limburg.write_bytes("\n".join(";".join(line.split(";")[:4]) for line in lines).encode("cp1252"))

    result = comms(project, "audience", "import")

    assert result.exit_code == 1
    assert "limburg.csv, row 1: missing required column(s) provincie, rollen" in result.output
    assert "nothing was sent" in result.output
    status = comms(project, "status")
    assert status.exit_code == 0


def test_a_broken_source_is_reported_and_the_others_collected(project: Path) -> None:
    (project / "sample" / "feeds" / "bij12-nieuws.xml").write_text("<rss><channel><item><title>Half")
    config = project / "comms.toml"
    config.write_text(config.read_text().replace("sample/feeds/position-papers.xml", "sample/feeds/weg.xml"))

    result = comms(project, "collect")

    assert result.exit_code == 1
    truncated = "bij12-nieuws, line 1: not well-formed XML: the document ends too early (truncated?)"
    assert truncated in result.output
    assert "position-papers: could not fetch" in result.output and "file not found" in result.output
    assert re.search(r"ipo-nieuws\s+│\s+25\s", result.output)
    assert "2 source(s) could not be read: bij12-nieuws, position-papers; the others were collected" in (
        result.output
    )


def test_collect_ends_within_the_deadline_when_servers_drip(project: Path, feed_server: FeedServer) -> None:
    config = project / "comms.toml"
    slow = [("traag-nieuws", "news"), ("traag-agenda", "meeting")]
    config.write_text(
        config.read_text()
        + "".join(
            f'\n[[sources]]\nname = "{name}"\nurl = "{feed_server.url}/drip"\nkind = "{kind}"\n'
            "allow_private_addresses = true  # the test's server, on loopback\n"
            for name, kind in slow
        )
        + "\n[collect]\ndeadline_seconds = 1\n"
    )
    importlib.import_module("comms.cli.sources")  # loaded when first run: no part of the deadline
    started = time.monotonic()

    result = comms(project, "collect")

    elapsed = time.monotonic() - started
    assert elapsed < 1 + 1.5, elapsed  # both at once, each given up at its deadline
    assert result.exit_code == 1
    for name, _ in slow:
        expected = (
            f"{name}: could not fetch {feed_server.url}/drip: no complete answer within the deadline of 1 s"
        )
        assert expected in result.output
    assert re.search(r"ipo-nieuws\s+│\s+25\s", result.output)  # the others are collected
    assert re.search(r"traag-nieuws\s+│\s+0\s+│\s+0\s+│\s+0\s+│\s+skipped", result.output)
    assert "2 source(s) could not be read: traag-nieuws, traag-agenda" in result.output


def test_a_template_error_stops_the_build_before_anything_is_stored(project: Path) -> None:
    comms(project, "audience", "import")
    comms(project, "collect")
    blocks = project / "templates" / "newsletter" / "partials" / "blocks.mjml"
    blocks.write_text(blocks.read_text().replace("{{ entry.title }}", "{{ entry.titel }}"))

    result = comms(project, "newsletter", "build", "--month", "2026-12")

    assert result.exit_code == 1
    assert "blocks.mjml, line 18: undefined variable: Entry has no attribute 'titel'" in result.output
    assert "no editions yet" in comms(project, "status").output


def test_suppressions_by_hand(project: Path) -> None:
    address = "lid@utrecht.example.org"
    assert comms(project, "suppressions", "add", address, "--scope", "newsletter").exit_code == 0
    listed = comms(project, "suppressions", "list")
    assert re.search(rf"{re.escape(address)}\s+│\s+newsletter\s+│\s+added by hand", listed.output), (
        listed.output
    )
    assert comms(project, "suppressions", "remove", address, "--scope", "newsletter").exit_code == 0
    assert "no suppressions" in comms(project, "suppressions", "list").output
    wrong = comms(project, "suppressions", "add", address, "--scope", "nieuwsbrief")
    assert wrong.exit_code == 2 and "'nieuwsbrief' is not a mailing kind" in wrong.output


@pytest.mark.parametrize(
    ("crons", "rows"),
    [
        (
            {},  # as shipped: fourth Monday 07:00, first Thursday 09:00
            [
                r"newsletter\s+│\s+build\s+│\s+0 7 22-28 \* mon\s+│\s+2027-03-22 07:00 CET\s",
                r"│\s+2027-04-26 07:00 CEST\s",
                r"send\s+│\s+0 9 1-7 \* thu\s+│\s+2027-04-01 09:00 CEST\s+│\s+2027-03-30 09:00 CEST\s+│"
                r"\s+mon-fri 08:00-18:00",
                r"│\s+2027-06-03 09:00 CEST\s+│\s+2027-06-01 09:00 CEST\s",
            ],
        ),
        (
            {"0 7 22-28 * mon": "0 7 8-14 * mon", "0 9 1-7 * thu": "0 9 22-28 * thu"},
            [
                r"build\s+│\s+0 7 8-14 \* mon\s+│\s+2027-04-12 07:00 CEST\s",
                r"send\s+│\s+0 9 22-28 \* thu\s+│\s+2027-03-25 09:00 CET\s+│\s+2027-03-23 09:00 CET\s",
                r"│\s+2027-04-22 09:00 CEST\s+│\s+2027-04-20 09:00 CEST\s",
            ],
        ),
    ],
)
def test_schedule_list_shows_dutch_times_across_summer_time(
    project: Path, crons: dict[str, str], rows: list[str]
) -> None:
    schedule = project / "schedules" / "newsletter.toml"
    text = schedule.read_text(encoding="utf-8")
    for old, new in crons.items():
        text = text.replace(old, new)
    schedule.write_text(text, encoding="utf-8")

    result = comms(project, "schedule", "list", "--from", "2027-03-20", "--count", "3")

    assert result.exit_code == 0, result.output
    for row in rows:
        assert re.search(row, result.output), (row, result.output)


@pytest.mark.parametrize("command", [["schedule", "list"], ["check"]])
def test_an_invalid_schedule_fails_list_and_check(project: Path, command: list[str]) -> None:
    schedule = project / "schedules" / "newsletter.toml"
    schedule.write_text(schedule.read_text(encoding="utf-8").replace("0 9 1-7 * thu", "0 9 31 2 *"))

    result = comms(project, *command)

    assert result.exit_code == 1
    assert "schedules/newsletter.toml, line 29: [send] cron '0 9 31 2 *' never runs" in result.output
    assert "error(s) in" in result.output


def test_status_counts_uncertain_messages_apart_with_their_reason(project: Path) -> None:
    from sqlalchemy import select, update

    from comms.config import load_config
    from comms.store.database import Database
    from comms.store.models import Message, MessageStatus

    _build_and_approve(project)
    assert comms(project, "send", "nieuwsbrief-2026-12", *SEND_NOW).exit_code == 0
    config, _ = load_config(project / "comms.toml")
    assert config is not None
    db = Database(config.database_url, config.base_dir)
    with db.session() as session:  # as a relay that never confirmed two messages leaves them
        ids = session.scalars(select(Message.id).order_by(Message.id).limit(2)).all()
        reason = "uncertain: the message was sent, but smtp.example.org:587 did not confirm it within 600 s"
        session.execute(
            update(Message).where(Message.id.in_(ids)).values(status=MessageStatus.UNCERTAIN, error=reason)
        )
    db.dispose()

    status = comms(project, "status", "nieuwsbrief-2026-12")

    assert status.exit_code == 0
    header = next(line for line in status.output.splitlines() if "edition" in line)
    row = next(line for line in status.output.splitlines() if line.startswith("│ nieuwsbrief"))
    columns = dict(
        zip(re.split(r"\s*┃\s*", header.strip("┃ ")), re.split(r"\s*│\s*", row.strip("│ ")), strict=True)
    )
    assert (columns["failed"], columns["uncertain"]) == ("0", "2")
    assert f"uncertain 2× (perhaps delivered): {reason}" in status.output
