"""The pool of an anonymous round: answers wait sealed, are written in batches of at least k in
random order, and whoever reads the database cannot tell whose answers a response holds.

`test_no_join_identifies_a_respondent` is the attacker's side: a round answered one by one
through the real path (operations.surveys.answer), then the xmin, ctid (PostgreSQL), rowid
(SQLite), time and (role, province) joins. A join "identifies" a respondent when it leaves fewer
than k people who could have written a response. Ground truth comes from an open answer that
names its writer (the attacker does not get to read it that way: it only tells the test).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from comms.audience.contacts import read_audience
from comms.audience.sync import import_contacts
from comms.config import load_config
from comms.operations import surveys
from comms.service import Service
from comms.store.models import Contact, SurveyInvitation, SurveyPoolEntry, SurveyResponse
from comms.survey.pool import OTHER, Pooled, Seal, batch_labels
from comms.survey.responses import TokenFailure
from tests.conftest import SECRET
from tests.survey.test_rounds import at, recipients, send_due, start_approved

K = 5
SURVEY = f"""
title = "Evaluatie van het pamflet 2026-H2"
introduction = "Hoe werken de afspraken over IPO-agenda's?"
round = "2026-H2"
opens = 2026-12-01T09:00:00
closes = 2026-12-22T17:00:00
anonymous = true
min_group_size = {K}

[audience]
roles = ["cdk", "statenlid", "griffier"]

[[questions]]
id = "bekendheid"
type = "scale"
text = "Ik ken de afspraken uit het pamflet."
labels = ["Helemaal oneens", "Oneens", "Neutraal", "Eens", "Helemaal eens"]

[[questions]]
id = "toelichting"
type = "text"
text = "Toelichting"
required = false
"""
PROVINCES = [
    "Groningen", "Fryslân", "Drenthe", "Overijssel", "Flevoland", "Gelderland",
    "Utrecht", "Noord-Holland", "Zuid-Holland", "Zeeland", "Noord-Brabant", "Limburg",
]  # fmt: skip
# One CdK per province (12), six Statenleden of Utrecht, three griffiers: 21 invitees. A CdK or a
# griffier is alone in their (role, province): that pair names the person.
PEOPLE = (
    [(f"cdk{i:02}", province, "cdk") for i, province in enumerate(PROVINCES)]
    + [(f"statenlid{i}", "Utrecht", "statenlid") for i in range(6)]
    + [("griffierzee", "Zeeland", "griffier"), ("griffierutr", "Utrecht", "griffier")]
    + [("griffierlim", "Limburg", "griffier")]
)  # fmt: skip
# Who answers, in this order: 13. The 10th fills the pool to 2k (5 written, 5 kept); the close
# writes the other 8.
ORDER = [
    "cdk00", "statenlid0", "statenlid1", "griffierzee", "statenlid2", "statenlid3", "cdk02",
    "statenlid4", "griffierutr", "statenlid5", "cdk09", "griffierlim", "cdk06",
]  # fmt: skip
PERSON = {name: (province, role) for name, province, role in PEOPLE}


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    folder = project / "templates" / "surveys"
    for path in folder.glob("*.toml"):
        path.unlink()
    (folder / "pamflet.toml").write_text(SURVEY, encoding="utf-8")
    contacts = project / "audiences" / "contacts"
    for path in contacts.glob("*.csv"):
        path.unlink()
    rows = "".join(f"{n}@{p.lower()}.example.org;{n.title()};;Test;{p};{r};;\n" for n, p, r in PEOPLE)
    (contacts / "test.csv").write_text(
        "e-mailadres;voornaam;tussenvoegsel;achternaam;provincie;rollen;partij;thema's\n" + rows,
        encoding="utf-8",
    )
    config, problems = load_config(project / "comms.toml")
    assert config, problems
    service = Service.open(config)
    with service.db.session() as session:
        import_contacts(session, read_audience(config.contact_files()).contacts, at(11, 1, 9))
    yield service
    service.db.dispose()


# -- the labels stored with a batch --------------------------------------------------------------


U, Z = "Utrecht", "Zeeland"


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        pytest.param([("statenlid", U)] * 5, [("statenlid", U)] * 5, id="a-pair-of-five"),
        pytest.param(
            [("statenlid", U)] * 4 + [("cdk", U)], [(OTHER, U)] * 5, id="the-province-where-the-pair-is-small"
        ),
        pytest.param(
            [("statenlid", U)] * 3 + [("statenlid", Z)] * 2, [("statenlid", OTHER)] * 5, id="the-role-alone"
        ),
        pytest.param(
            [("statenlid", U)] * 5 + [("cdk", Z)],
            [(OTHER, OTHER)] * 6,  # the CdK alone in "overig" would be named: the pair joins it
            id="one-left-over-folds-the-smallest-group-in",
        ),
        pytest.param(
            [("statenlid", U)] * 6 + [("cdk", Z), ("griffier", Z), ("kps", Z), ("cdk", U), (None, None)],
            [("statenlid", U)] * 6 + [(OTHER, OTHER)] * 5,
            id="five-left-over-stay-together",
        ),
        pytest.param([("cdk", p) for p in PROVINCES[:5]], [("cdk", OTHER)] * 5, id="five-cdks"),
        pytest.param([("cdk", U), ("griffier", Z)], [(OTHER, OTHER)] * 2, id="a-small-close"),
    ],
)
def test_a_role_or_province_is_stored_only_where_k_of_the_batch_share_it(
    groups: list[tuple[str | None, str | None]], expected: list[tuple[str, str]]
) -> None:
    labels = batch_labels(groups, K)

    assert labels == expected
    sizes = Counter(labels)
    assert all(size >= K for size in sizes.values()) or set(sizes) == {(OTHER, OTHER)}


# -- the seal --------------------------------------------------------------------------------------


def test_a_pooled_response_opens_only_with_the_key_and_for_its_round() -> None:
    seal = Seal(SECRET)
    pooled = Pooled({"bekendheid": 4, "toelichting": "Prima"}, "cdk", "Zeeland")

    sealed = seal.seal(pooled.to_bytes(), "2026-H2")

    assert b"Prima" not in sealed and b"Zeeland" not in sealed and b"cdk" not in sealed
    opened = seal.open(sealed, "2026-H2")
    assert opened is not None and Pooled.from_bytes(opened) == pooled
    assert seal.open(sealed, "2027-H1") is None
    assert Seal("another-secret-key-that-is-long-enough-987654").open(sealed, "2026-H2") is None
    assert seal.seal(pooled.to_bytes(), "2026-H2") != sealed  # a fresh nonce every time


# -- the whole round, and the attacks --------------------------------------------------------------


@dataclass
class Watch:
    """What the test records while the round runs (the attacker's view is read from the database)."""

    written_after: list[int] = field(default_factory=list)  # responses written, after each answer
    pool_xmin_matches: int = 0  # pool entries that share an xmin with an invitation, over all moments
    batches: list[list[str]] = field(default_factory=list)  # response ids per batch, in physical order


def physical_order(session: Session, postgres: bool) -> list[str]:
    column = "ctid" if postgres else "rowid"
    return list(session.execute(text(f"SELECT id FROM survey_responses ORDER BY {column}")).scalars())


def run_round(service: Service, postgres: bool) -> Watch:
    start_approved(service)
    send_due(service, at(12, 1, 9))
    links = recipients(service, "enquete-2026-h2-uitnodiging")
    watch = Watch()
    before: list[str] = []
    for minute, name in enumerate(ORDER):
        form = {"bekendheid": [str(1 + minute % 5)], "toelichting": [f"geschreven door {name}"]}
        outcome = surveys.answer(service, links[name], form, True, at(12, 2, 9, minute))
        assert not isinstance(outcome, TokenFailure) and outcome.submitted
        with service.db.session() as session:
            order = physical_order(session, postgres)
            if postgres:
                watch.pool_xmin_matches += session.scalar(
                    text("SELECT count(*) FROM survey_pool p JOIN survey_invitations i ON i.xmin = p.xmin")
                )
        if len(order) > len(before):
            assert order[: len(before)] == before  # earlier batches stay where they are
            watch.batches.append(order[len(before) :])
        before = order
        watch.written_after.append(len(order))
    surveys.write_closed_pools(service, at(12, 22, 17))
    with service.db.session() as session:
        order = physical_order(session, postgres)
    watch.batches.append(order[len(before) :])
    return watch


def authors(session: Session) -> dict[str, str]:
    """response id → who wrote it (the test's ground truth)."""
    rows = session.execute(select(SurveyResponse.id, SurveyResponse.answers)).all()
    return {row.id: json.loads(row.answers)["toelichting"].removeprefix("geschreven door ") for row in rows}


def test_no_join_identifies_a_respondent(service: Service, database_url: str) -> None:
    postgres = database_url.startswith("postgresql")
    watch = run_round(service, postgres)

    # Batches: nothing until the pool held 2k, then k; the close wrote the other 8 at once.
    assert watch.written_after == [0] * 9 + [5] * 4
    assert [len(b) for b in watch.batches] == [5, 8]
    with service.db.session() as session:
        written = authors(session)
        assert sorted(written.values()) == sorted(ORDER)
        assert session.scalar(select(func.count()).select_from(SurveyPoolEntry)) == 0
        invitations = session.execute(
            select(Contact.email, SurveyInvitation.role, SurveyInvitation.province, SurveyInvitation)
            .join(Contact, Contact.id == SurveyInvitation.contact_id)
            .where(SurveyInvitation.submitted.is_(True))
        ).all()
        responses = session.scalars(select(SurveyResponse)).all()

        # ctid / rowid: within a batch the rows lie in the order of their random ids, so the
        # physical order says nothing about the order of submission beyond the batch.
        for batch in watch.batches:
            assert batch == sorted(batch)
        if postgres:
            # xmin: no response and no pool entry ever shared a transaction with an invitation.
            joined = session.scalar(
                text("SELECT count(*) FROM survey_responses r JOIN survey_invitations i ON i.xmin = r.xmin")
            )
            assert (joined, watch.pool_xmin_matches) == (0, 0)
            # and every invitation of the round carries the same xmin: none tells when it was answered
            assert session.scalar(text("SELECT count(DISTINCT xmin::text) FROM survey_invitations")) == 1
            per_batch = session.execute(
                text("SELECT count(*) FROM survey_responses GROUP BY xmin::text")
            ).scalars()
            assert sorted(per_batch) == [5, 8]

    # time: nothing in a response, the pool or the invitation holds the moment of answering.
    assert all(r.submitted_at is None and r.invitation_id is None for r in responses)
    assert all(row.SurveyInvitation.submitted_at is None for row in invitations)
    assert not [c for c in SurveyPoolEntry.__table__.columns if "DateTime" in type(c.type).__name__]

    # (role, province): who of those who answered could have written each response.
    candidates = {
        r.id: {
            row.email.split("@")[0]
            for row in invitations
            if r.role in (OTHER, row.role) and r.province in (OTHER, row.province)
        }
        for r in responses
    }
    assert all(written[r] in people for r, people in candidates.items())
    assert min(len(people) for people in candidates.values()) >= K
    # Even knowing which people answered before each batch was written (the order of ORDER):
    # the first batch came from the first 10, the rest from all 13.
    first = set(watch.batches[0])
    for response_id, people in candidates.items():
        possible = people & set(ORDER[:10]) if response_id in first else people
        assert len(possible) >= K, (response_id, sorted(possible))


def test_answers_that_never_reach_the_pool_leave_the_invitation_open(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_approved(service)
    send_due(service, at(12, 1, 9))
    link = recipients(service, "enquete-2026-h2-uitnodiging")["cdk00"]
    form = {"bekendheid": ["4"], "toelichting": ["Prima"]}

    def broken(*_args: object) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr("comms.survey.pool.add", broken)
        surveys.answer(service, link, form, True, at(12, 2, 9))

    with service.db.session() as session:  # completion undone: nothing says it was answered
        assert session.scalar(select(func.count()).where(SurveyInvitation.submitted.is_(True))) == 0
    outcome = surveys.answer(service, link, form, True, at(12, 2, 10))  # so sending again works
    assert not isinstance(outcome, TokenFailure) and outcome.submitted
    with service.db.session() as session:
        assert session.scalar(select(func.count()).select_from(SurveyPoolEntry)) == 1
