"""Dutch for the team and recipients: counts agree with their verbs, kinds are named with their article."""

from __future__ import annotations

from datetime import time, timedelta
from types import SimpleNamespace

import pytest

from comms import kinds
from comms.cli.survey import reminders_received
from comms.deliver.outbox import _edition_block
from comms.dutch import CAN, HAS, DutchName, Noun, counted, part_of
from comms.kinds.newsletter import KIND as NEWSLETTER
from comms.problems import Problem
from comms.reasons import Reason
from comms.schedule.jobs import (
    NOT_APPROVED,
    SOURCE,
    _outside_window,
    _problems_notice,
    _too_late,
    _withdrawn,
    late_text,
)
from comms.send_window import SendWindow
from comms.store.models import EditionStatus
from comms.survey.results import INVITEE, Comparison, SurveyResults

COUNTS = [0, 1, 2, 681]


@pytest.mark.parametrize(
    ("count", "expected"),
    list(zip(COUNTS, ["0 meldingen", "1 melding", "2 meldingen", "681 meldingen"], strict=True)),
)
def test_a_counted_noun_is_singular_for_one_only(count: int, expected: str) -> None:
    assert Noun("melding", "meldingen").count(count) == expected


@pytest.mark.parametrize(
    ("part", "expected"),
    list(
        zip(
            COUNTS,
            [
                "0 van de 681 genodigden hebben",
                "1 van de 681 genodigden heeft",
                "2 van de 681 genodigden hebben",
                "681 van de 681 genodigden hebben",
            ],
            strict=True,
        )
    ),
)
def test_the_verb_agrees_with_the_part_of_the_whole(part: int, expected: str) -> None:
    assert part_of(part, 681, INVITEE, HAS) == expected


@pytest.mark.parametrize(
    ("responded", "expected"),
    list(
        zip(
            COUNTS,
            [
                "0 van de 681 genodigden hebben de vragenlijst ingevuld",
                "1 van de 681 genodigden heeft de vragenlijst ingevuld",
                "2 van de 681 genodigden hebben de vragenlijst ingevuld",
                "681 van de 681 genodigden hebben de vragenlijst ingevuld",
            ],
            strict=True,
        )
    ),
)
def test_the_survey_results_sentence_agrees_with_the_count(responded: int, expected: str) -> None:
    results = SimpleNamespace(responded=responded, invited=681)

    assert SurveyResults.response_text.fget(results) == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("count", "expected"),
    list(
        zip(COUNTS, ["0 bronnen konden", "1 bron kon", "2 bronnen konden", "681 bronnen konden"], strict=True)
    ),
)
def test_a_counted_subject_takes_its_verb(count: int, expected: str) -> None:
    assert counted(count, SOURCE, CAN) == expected


@pytest.mark.parametrize(
    ("count", "subject"),
    list(
        zip(
            COUNTS[1:],
            [
                "Maandelijkse nieuwsbrief voor Statenleden: 1 melding",
                "Maandelijkse nieuwsbrief voor Statenleden: 2 meldingen",
                "Maandelijkse nieuwsbrief voor Statenleden: 681 meldingen",
            ],
            strict=True,
        )
    ),
)
def test_the_build_problems_mail_counts_its_problems(count: int, subject: str) -> None:
    problems = [Problem(f"item {n}", "left out") for n in range(count)]

    assert _problems_notice(NEWSLETTER, problems).subject == subject


@pytest.mark.parametrize(
    ("reminders", "invitees", "expected"),
    [
        (0, 681, "no reminder yet: 681 invitees"),
        (1, 1, "1 reminder: 1 invitee"),
        (2, 2, "2 reminders: 2 invitees"),
        (2, 681, "2 reminders: 681 invitees"),
    ],
)
def test_survey_status_says_what_its_reminder_counts_mean(
    reminders: int, invitees: int, expected: str
) -> None:
    assert reminders_received(reminders, invitees) == expected


@pytest.mark.parametrize("kind", kinds.every(), ids=lambda k: k.key)
def test_every_kind_is_named_in_mid_sentence_with_its_article(kind: kinds.MailingKind) -> None:
    name = kind.label_definite

    assert name.split(" ", 1)[0] in ("de", "het")
    assert name[0].islower() and name != kind.label


def test_only_de_and_het_are_articles() -> None:
    with pytest.raises(ValueError, match="'de' or 'het'"):
        DutchName("een", "nieuwsbrief")


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (0, "0 minuten"),
        (1, "1 minuut"),
        (2, "2 minuten"),
        (60, "1 uur"),
        (65, "1 uur en 5 minuten"),
        (121, "2 uur en 1 minuut"),
    ],
)
def test_how_late_reads_in_dutch(minutes: int, expected: str) -> None:
    assert late_text(timedelta(minutes=minutes)) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (range(5), "maandag tot en met vrijdag, 8.00 tot 18.00 uur"),
        ([0, 2], "maandag en woensdag, 8.00 tot 18.00 uur"),
        ([0, 1, 2, 4], "maandag tot en met woensdag en vrijdag, 8.00 tot 18.00 uur"),
        ([0, 2, 4], "maandag, woensdag en vrijdag, 8.00 tot 18.00 uur"),
        (range(7), "elke dag, 8.00 tot 18.00 uur"),
    ],
)
def test_the_send_window_reads_in_dutch_local_time(days: list[int], expected: str) -> None:
    assert SendWindow(frozenset(days), time(8), time(18)).describe_dutch() == expected


@pytest.mark.parametrize(
    ("reason", "english", "dutch"),
    [
        (
            NOT_APPROVED,
            "not approved by the planned send time",
            "niet goedgekeurd vóór de geplande verzendtijd",
        ),
        (
            _too_late(timedelta(minutes=75)),
            "started 75 min late, beyond the staleness limit",
            "de verzending zou 1 uur en 15 minuten te laat beginnen, later dan het schema toestaat",
        ),
        (
            _outside_window(SendWindow(frozenset(range(5)), time(8), time(18))),
            "outside the send window mon-fri 08:00-18:00",
            "buiten de verzendtijden (maandag tot en met vrijdag, 8.00 tot 18.00 uur)",
        ),
        (
            _withdrawn(
                EditionStatus.HELD,
                Reason("held by els: wacht op de begroting", "aangehouden door els: wacht op de begroting"),
            ),
            "held: held by els: wacht op de begroting",
            "de editie is aangehouden (aangehouden door els: wacht op de begroting)",
        ),
        (_withdrawn(EditionStatus.CANCELLED, None), "cancelled", "de editie is vervallen"),
    ],
    ids=["not approved", "too late", "outside the window", "held", "cancelled"],
)
def test_a_send_that_did_not_happen_has_one_reason_per_language(
    reason: Reason, english: str, dutch: str
) -> None:
    assert (reason.en, reason.nl) == (english, dutch)


@pytest.mark.parametrize(
    ("n", "expected"),
    list(zip(COUNTS, ["0 antwoorden", "1 antwoord", "2 antwoorden", "681 antwoorden"], strict=True)),
)
def test_the_previous_round_counts_its_answers(n: int, expected: str) -> None:
    assert Comparison("2026-1", n, (), None, wording_changed=False).answer_count == expected


@pytest.mark.parametrize(
    ("recipients", "expected"), [(1, "(1 ontvanger)"), (2, "(2 ontvangers)"), (681, "(681 ontvangers)")]
)
def test_the_outbox_index_counts_recipients_per_variant(recipients: int, expected: str) -> None:
    preview = {"file": "p.html", "label": "Utrecht, alle thema's", "recipients": recipients}
    manifest = {"subject": "S", "key": "k", "status": "sent", "counts": {}, "previews": [preview]}

    assert f"</a> {expected}</li>" in _edition_block(manifest)
