"""The team's calendar: every coming mailing, when, for whom, its state and what is needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from comms.editions import lifecycle
from comms.kinds.survey import KIND as SURVEY
from comms.operations import calendar as calendars
from comms.operations.calendar import MailingState, need_for
from comms.store.editions import find_edition
from comms.store.models import TeamRole
from tests.deliver.conftest import KEY, NOW, EditionFactory

# NOW is Tuesday 1 December 2026, 8.00 Dutch time; the December newsletter goes on Thursday the 3rd.
DEADLINE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 48 hours before the send: Tuesday 9.00


@pytest.mark.parametrize(
    ("state", "due", "expected", "who"),
    [
        (
            MailingState.DRAFT,
            DEADLINE,
            "goedkeuring nodig van een goedkeurder vóór dinsdag 1 december 2026, 9.00 uur",
            TeamRole.APPROVER,
        ),
        (
            MailingState.DRAFT,
            NOW - timedelta(hours=1),
            "goedkeuring nodig van een goedkeurder: de termijn verliep op dinsdag 1 december 2026, 7.00 uur",
            TeamRole.APPROVER,
        ),
        (MailingState.DRAFT, None, "goedkeuring nodig van een goedkeurder", TeamRole.APPROVER),
        (
            MailingState.HELD,
            DEADLINE,
            "opnieuw opbouwen door een redacteur en goedkeuren, of vervallen verklaren",
            TeamRole.EDITOR,
        ),
        (MailingState.APPROVED, DEADLINE, "niets nodig", None),
        (MailingState.SENDING, None, "niets nodig", None),
    ],
)
def test_what_each_state_needs_from_whom(
    state: MailingState, due: datetime | None, expected: str, who: TeamRole | None
) -> None:
    need = need_for(state, due, NOW)
    assert (need.text, need.who) == (expected, who)


@pytest.mark.parametrize("approve", [False, True], ids=["draft", "approved"])
def test_the_built_newsletter_at_its_planned_send(approved_edition: EditionFactory, approve: bool) -> None:
    edition = approved_edition(8)
    if not approve:  # the factory approves; back to a draft as the build left it
        with edition.service.db.session() as session:
            found = find_edition(session, KEY)
            found.status, found.approved_at, found.approved_by = "draft", None, None
    lifecycle.schedule_send(edition.service, KEY, datetime(2026, 12, 3, 8, 0, tzinfo=UTC), "newsletter")

    seen = calendars.calendar(edition.service, NOW, weeks=6)

    [entry] = [e for e in seen.entries if e.key == KEY]
    assert entry.when == "donderdag 3 december 2026, 9.00 uur (Nederlandse tijd)"
    assert entry.for_whom == "segment statenleden (8 ontvangers)"
    assert entry.exists
    if approve:
        assert (entry.state, entry.need.text) == (MailingState.APPROVED, "niets nodig")
    else:
        assert entry.state is MailingState.DRAFT
        assert (
            entry.need.text == "goedkeuring nodig van een goedkeurder vóór dinsdag 1 december 2026, 9.00 uur"
        )


def test_coming_builds_and_every_kind_in_time_order(approved_edition: EditionFactory) -> None:
    edition = approved_edition(4)

    seen = calendars.calendar(edition.service, NOW, weeks=6)

    january = next(e for e in seen.entries if e.key == "nieuwsbrief-2027-01")
    assert (january.state, january.exists) == (MailingState.PLANNED, False)
    assert january.when == "donderdag 7 januari 2027, 9.00 uur (Nederlandse tijd)"
    assert january.need.text == (
        "wordt opgebouwd op maandag 28 december 2026, 7.00 uur; daarna goedkeuring nodig van "
        "een goedkeurder vóór dinsdag 5 januari 2027, 9.00 uur"
    )
    digests = [e for e in seen.entries if e.kind.key == "agenda-digest"]
    assert len(digests) == 6  # every Monday 9.00 of the six weeks, no approval needed
    assert {e.need.text for e in digests} == {"niets nodig"}
    assert digests[0].when == "maandag 7 december 2026, 9.00 uur (Nederlandse tijd)"
    times = [e.send_at for e in seen.entries if e.send_at]
    assert times == sorted(times)
    assert all(NOW <= t < NOW + timedelta(weeks=6) for t in times)
    assert seen.only(kind="newsletter", state=MailingState.PLANNED) == [january]


def test_an_agendas_notices_make_one_row(approved_edition: EditionFactory) -> None:
    edition = approved_edition(4)

    seen = calendars.calendar(edition.service, NOW, weeks=6)

    notices = [g for g in seen.groups(kind="agenda-notice") if not g.is_single]
    assert notices, "the sample agendas plan a notice per province"
    first = notices[0]
    assert first.what == f"Agendabericht voor de GS-vergadering: {len(first.entries)} mailings"
    assert len({(e.send_at, e.state) for e in first.entries}) == 1
    assert sum(len(g.entries) for g in seen.groups(kind="agenda-notice")) == len(
        seen.only(kind="agenda-notice")
    )


def test_only_what_waits_for_the_team_now_counts_as_needing_action(approved_edition: EditionFactory) -> None:
    edition = approved_edition(4)
    with edition.service.db.session() as session:
        find_edition(session, KEY).status = "draft"

    seen = calendars.calendar(edition.service, NOW, weeks=6)

    assert seen.needing_action == 1  # December's draft; January's approval is asked after its build
    january = next(e for e in seen.entries if e.key == "nieuwsbrief-2027-01")
    assert (january.need.who, january.need.asks_action_now) == (TeamRole.APPROVER, False)


def test_a_survey_rounds_invitation_and_the_reminders_its_policy_plans(
    approved_edition: EditionFactory,
) -> None:
    edition = approved_edition(4)
    SURVEY.start_round(edition.service, "2026-H2", NOW)  # opens Tuesday 1 December, 9.00

    seen = calendars.calendar(edition.service, NOW, weeks=6)

    survey = [(e.key, e.when, e.state, e.exists) for e in seen.only(kind="survey")]
    assert survey == [
        (
            "enquete-2026-h2-uitnodiging",
            "dinsdag 1 december 2026, 9.00 uur (Nederlandse tijd)",
            MailingState.DRAFT,
            True,
        ),
        # first_after_days = 7, min_days_between = 5: due from the day, sent by the 9.00 send step
        (
            "enquete-2026-h2-herinnering-1",
            "dinsdag 8 december 2026, 9.00 uur (Nederlandse tijd)",
            MailingState.PLANNED,
            False,
        ),
        (
            "enquete-2026-h2-herinnering-2",
            "maandag 14 december 2026, 9.00 uur (Nederlandse tijd)",
            MailingState.PLANNED,
            False,
        ),
    ]
