"""The respondent's side: a link resolves to an invitee or a reason, drafts come back, a response
is stored exactly once (also when two submissions race), and an anonymous one links to nobody."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from comms.store.database import Database
from comms.store.models import SurveyDraft, SurveyInvitation, SurveyResponse
from comms.survey import pool as survey_pool
from comms.survey.responses import Failure, Respondent, TokenFailure, resolve, save_draft, submit
from comms.tokens import Purpose, Signer
from tests.conftest import SECRET
from tests.survey.seeding import CLOSES, DURING, OPENS, add_contact, pamflet, seed_round, survey_token

SIGNER = Signer(SECRET)
SEAL = survey_pool.Seal(SECRET)
ANSWERS = {
    "bekendheid": 4,
    "besproken": "Meestal",
    "tijdigheid": 2,
    "ps-informatie": ["Via de wekelijkse lijst van GS-besluiten"],
    "ps-tevredenheid": 3,
    "nut": "Ja",
    "verbetering": "Eerder de stukken.",
}


@dataclass
class Round:
    db: Database
    invitations: dict[str, int]  # public id → invitation id

    def resolve(self, token: str, now: datetime = DURING) -> Respondent | TokenFailure:
        with self.db.session() as session:
            return resolve(session, SIGNER, token, now)

    def respondent(self, public_id: str = "anna", now: datetime = DURING) -> Respondent:
        found = self.resolve(survey_token(SIGNER, public_id), now)
        assert isinstance(found, Respondent), found
        return found

    def submit(self, respondent: Respondent, answers: dict = ANSWERS, now: datetime = DURING) -> bool:  # type: ignore[type-arg]
        """Submit; in an anonymous round put the answers in the pool (a transaction of its own) and
        write the pool at once, as the round's close does (tests/survey/test_pool.py tests batches)."""
        with self.db.session() as session:
            if not submit(session, respondent, answers, now):
                return False
        if respondent.anonymous:
            with self.db.session() as session:
                survey_pool.add(
                    session,
                    SEAL,
                    respondent.survey,
                    survey_pool.Pooled(answers, respondent.role, respondent.province),
                )
            with self.db.session() as session:
                survey_pool.write_batch(
                    session, SEAL, respondent.survey, respondent.definition.min_group_size, closing=True
                )
        return True

    def responses(self) -> list[SurveyResponse]:
        with self.db.session() as session:
            return list(session.scalars(select(SurveyResponse)))

    def invitation(self, public_id: str = "anna") -> SurveyInvitation:
        with self.db.session() as session:
            found = session.get(SurveyInvitation, self.invitations[public_id])
            assert found is not None
            return found

    def drafts(self) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(SurveyDraft)) or 0


def make_round(db: Database, **changes: object) -> Round:
    with db.session() as session:
        add_contact(session, "anna", "Utrecht", "gedeputeerde")
        add_contact(session, "bram", "Zeeland", "statenlid")
        add_contact(session, "cora", "Zeeland", "griffier")  # a contact, but not invited
        invitations = seed_round(session, pamflet(**changes), ["anna", "bram"])
    return Round(db, invitations)


@pytest.fixture
def anonymous_round(db: Database) -> Round:
    return make_round(db)


@pytest.fixture
def named_round(db: Database) -> Round:
    return make_round(db, anonymous=False)


def forged(token: str) -> str:
    """The token with another contact in its body: the signature no longer matches."""
    body, mac = token.split(".")
    text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().replace("anna", "bram")
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode() + "." + mac


LATER = CLOSES + timedelta(days=30)  # a token made to outlive the round: the round's dates still rule

FAILURES: list[tuple[str, Callable[[], str], datetime, Failure]] = [
    ("garbage", lambda: "not-a-token", DURING, Failure.INVALID),
    ("no signature", lambda: survey_token(SIGNER, "anna").split(".")[0], DURING, Failure.INVALID),
    ("forged", lambda: forged(survey_token(SIGNER, "anna")), DURING, Failure.INVALID),
    (
        "another key",
        lambda: survey_token(Signer("another-secret-key-that-is-long-enough-987654"), "anna"),
        DURING,
        Failure.INVALID,
    ),
    (
        "wrong purpose",
        lambda: SIGNER.sign(Purpose.PREFERENCES, "anna", "2026-H2", CLOSES),
        DURING,
        Failure.INVALID,
    ),
    ("unknown round", lambda: survey_token(SIGNER, "anna", "2025-H2"), DURING, Failure.INVALID),
    ("unknown contact", lambda: survey_token(SIGNER, "zoe"), DURING, Failure.INVALID),
    ("not invited", lambda: survey_token(SIGNER, "cora"), DURING, Failure.INVALID),
    (
        "expired",  # an older link that expired while the round is still open
        lambda: survey_token(SIGNER, "anna", expires_at=DURING - timedelta(days=1)),
        DURING,
        Failure.EXPIRED,
    ),
    ("closed, token expired with it", lambda: survey_token(SIGNER, "anna"), CLOSES, Failure.CLOSED),
    (
        "closed, token still valid",
        lambda: survey_token(SIGNER, "anna", expires_at=LATER),
        CLOSES,
        Failure.CLOSED,
    ),
    (
        "not open yet",
        lambda: survey_token(SIGNER, "anna"),
        OPENS - timedelta(minutes=1),
        Failure.NOT_OPEN_YET,
    ),
]


@pytest.mark.parametrize(("token", "now", "reason"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_a_link_that_does_not_open_the_form_says_why(
    anonymous_round: Round, token: Callable[[], str], now: datetime, reason: Failure
) -> None:
    found = anonymous_round.resolve(token(), now)

    assert isinstance(found, TokenFailure)
    assert found.reason == reason
    # The round's dates, for the page, only once the link is known to belong to an invitee.
    known = reason is not Failure.INVALID
    assert (found.title is not None, found.closes_at == CLOSES) == (known, known)


def test_a_submitted_invitation_is_refused_whatever_the_moment(anonymous_round: Round) -> None:
    assert anonymous_round.submit(anonymous_round.respondent())

    for now in (DURING, CLOSES + timedelta(days=1)):
        found = anonymous_round.resolve(survey_token(SIGNER, "anna"), now)
        assert isinstance(found, TokenFailure) and found.reason == Failure.SUBMITTED
    assert isinstance(anonymous_round.resolve(survey_token(SIGNER, "bram")), Respondent)  # others go on


@pytest.mark.parametrize(
    "now", [OPENS, DURING, CLOSES - timedelta(seconds=1)], ids=["opening", "during", "last second"]
)
def test_a_valid_link_resolves_to_the_invitee_and_the_round(anonymous_round: Round, now: datetime) -> None:
    respondent = anonymous_round.respondent("bram", now)

    assert respondent.invitation_id == anonymous_round.invitations["bram"]
    assert (respondent.role, respondent.province) == ("statenlid", "Zeeland")
    assert respondent.survey.round == "2026-H2"
    assert respondent.definition == pamflet()
    assert respondent.anonymous
    assert (respondent.draft, respondent.has_draft) == ({}, False)


def test_a_draft_is_saved_comes_back_and_is_replaced(anonymous_round: Round) -> None:
    first = {"bekendheid": 2, "ps-informatie": ["Mondeling in een Statencommissie"]}
    with anonymous_round.db.session() as session:
        assert save_draft(session, anonymous_round.respondent(), first, DURING)

    back = anonymous_round.respondent(now=DURING + timedelta(days=2))
    assert back.draft == first
    assert back.draft_saved_at == DURING

    second = {"bekendheid": 5, "verbetering": "Meer tijd. Ünïcode ✓"}
    with anonymous_round.db.session() as session:
        assert save_draft(session, back, second, DURING + timedelta(days=2))
    again = anonymous_round.respondent()
    assert (again.draft, again.draft_saved_at) == (second, DURING + timedelta(days=2))
    assert anonymous_round.drafts() == 1
    assert anonymous_round.respondent("bram").draft == {}  # a draft is one invitee's own


def test_a_response_is_stored_once_and_the_draft_goes(anonymous_round: Round) -> None:
    respondent = anonymous_round.respondent()
    with anonymous_round.db.session() as session:
        save_draft(session, respondent, {"bekendheid": 1}, DURING)

    assert anonymous_round.submit(anonymous_round.respondent(), ANSWERS)

    (response,) = anonymous_round.responses()
    assert json.loads(response.answers) == ANSWERS
    # alone in its batch: the only gedeputeerde and the only one from Utrecht (pool.batch_labels)
    assert (response.role, response.province) == ("overig", "overig")
    assert response.survey_id == respondent.survey.id
    assert anonymous_round.drafts() == 0
    assert anonymous_round.invitation().submitted


def test_a_second_submission_is_refused_and_stores_nothing(anonymous_round: Round) -> None:
    # Two tabs opened the form before either was sent: both hold a valid Respondent.
    first_tab, second_tab = anonymous_round.respondent(), anonymous_round.respondent()

    assert anonymous_round.submit(first_tab, ANSWERS)
    assert not anonymous_round.submit(second_tab, {**ANSWERS, "bekendheid": 1})

    (response,) = anonymous_round.responses()
    assert '"bekendheid": 4' in response.answers
    with anonymous_round.db.session() as session:  # nor does a late draft come back
        assert not save_draft(session, second_tab, {"bekendheid": 1}, DURING)
    assert anonymous_round.drafts() == 0


def test_an_anonymous_response_carries_nothing_that_links_it_to_the_invitee(anonymous_round: Round) -> None:
    assert anonymous_round.submit(anonymous_round.respondent("anna"))
    assert anonymous_round.submit(anonymous_round.respondent("bram"), now=DURING + timedelta(minutes=1))

    responses = anonymous_round.responses()
    assert len(responses) == 2
    for response in responses:
        assert response.invitation_id is None
        assert response.submitted_at is None
        assert re.fullmatch(r"[0-9a-f]{32}", response.id)
    assert responses[0].id != responses[1].id
    for public_id in ("anna", "bram"):
        invitation = anonymous_round.invitation(public_id)
        assert invitation.submitted  # completion is tracked per invitee, for reminders and rates …
        assert invitation.submitted_at is None  # … without a time that would match a response


def test_a_named_round_keeps_the_invitation_and_the_time(named_round: Round) -> None:
    respondent = named_round.respondent()
    assert not respondent.anonymous

    assert named_round.submit(respondent, now=DURING)

    (response,) = named_round.responses()
    assert response.invitation_id == named_round.invitations["anna"]
    assert response.submitted_at == DURING
    invitation = named_round.invitation()
    assert (invitation.submitted, invitation.submitted_at) == (True, DURING)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def test_two_submissions_racing_store_one_response(named_round: Round, pool: ThreadPoolExecutor) -> None:
    """Two sessions (threads), each with the invitation resolved and unsubmitted, submit at once: the
    conditional UPDATE lets exactly one through, on SQLite (a write lock) as on PostgreSQL (a row lock)."""
    both_resolved = threading.Barrier(2, timeout=30)

    def attempt(answer: int) -> bool:
        with named_round.db.session() as session:
            respondent = resolve(session, SIGNER, survey_token(SIGNER, "anna"), DURING)
            assert isinstance(respondent, Respondent)
            both_resolved.wait()
            return submit(session, respondent, {**ANSWERS, "bekendheid": answer}, DURING)

    results = [future.result(timeout=60) for future in [pool.submit(attempt, 1), pool.submit(attempt, 5)]]

    assert sorted(results) == [False, True]
    assert len(named_round.responses()) == 1
    assert named_round.invitation().submitted


def test_a_submission_waits_for_one_in_progress_and_then_is_refused(
    named_round: Round, pool: ThreadPoolExecutor
) -> None:
    """The first submission has marked the invitation but not committed; the second, in another
    session, cannot pass it: it waits for the lock and then finds the invitation submitted."""
    first_tab, second_tab = named_round.respondent(), named_round.respondent()
    with named_round.db.session() as session:
        assert submit(session, first_tab, ANSWERS, DURING)  # holds the lock until this block ends
        second = pool.submit(named_round.submit, second_tab)
    assert second.result(timeout=60) is False
    assert len(named_round.responses()) == 1
