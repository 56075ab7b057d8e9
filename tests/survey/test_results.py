"""Survey results: response rates with small groups merged, distributions, mean and spread, open
answers, the previous round, CSV (both files), SVG charts, the CLI report and the team's page.

The round is seeded straight into the database with known invitations and answers, so every
number the results show can be checked against what was given.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from sqlalchemy.orm import Session

from comms.cli.survey import print_results
from comms.clock import FixedClock
from comms.config import load_config
from comms.operations import surveys
from comms.operations.surveys import RESULTS_LINK_LIFETIME, results_link
from comms.service import Service
from comms.store.database import Database
from comms.store.models import Contact, Survey, SurveyInvitation, SurveyResponse
from comms.survey import charts
from comms.survey.definitions import Question, QuestionType, ReminderPolicy, SurveyDefinition
from comms.survey.export import BOM, SUMMARY_COLUMNS, export_csv, export_summary_csv, safe_cell
from comms.survey.report import summary_path_for
from comms.survey.results import (
    SMALL_GROUPS,
    GroupRate,
    SurveyResults,
    UnknownRound,
    compute_results,
    disclosed_groups,
    group_rates,
    question_result,
)
from comms.tokens import Purpose, Signer
from comms.web.app import create_app
from tests.web.support import check_response, serve

SVG = "{http://www.w3.org/2000/svg}"
LABELS = ("Helemaal oneens", "Oneens", "Neutraal", "Eens", "Helemaal eens")
CHANNELS = ("Brief van GS", "Via de griffie", "Mondeling in een Statencommissie")
OPENS = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def questions(
    *,
    channels_text: str = "Hoe wordt PS geïnformeerd?",
    besproken: Sequence[str] = ("Altijd", "Meestal", "Soms", "Nooit"),
) -> tuple[Question, ...]:
    return (
        Question("bekendheid", QuestionType.SCALE, "Ik ken de afspraken uit het pamflet.", labels=LABELS),
        Question("besproken", QuestionType.SINGLE, "Hoe vaak besproken in GS?", options=tuple(besproken)),
        Question("ps-informatie", QuestionType.MULTIPLE, channels_text, required=False, options=CHANNELS),
        Question("toelichting", QuestionType.TEXT, "Wilt u nog iets toelichten?", required=False),
    )


def definition(round_: str, opens_at: datetime, name: str = "pamflet", **changes: object) -> SurveyDefinition:
    made = SurveyDefinition(
        name=name,
        path=Path(f"templates/surveys/{name}.toml"),
        title=f"Evaluatie van het pamflet {round_}",
        introduction="Hoe gaat het met de afspraken?",
        round=round_,
        opens_at=opens_at,
        closes_at=opens_at + timedelta(days=21),
        roles=frozenset({"statenlid", "gedeputeerde", "cdk", "kps"}),
        provinces=frozenset(),
        reminders=ReminderPolicy(7, 5, 2),
        anonymous=True,
        questions=questions(),
    )
    return replace(made, **changes)  # type: ignore[arg-type]


# (role, province, invited, responded): 35 invited, 21 responded.
# Per role: statenlid 20/10, gedeputeerde 8/6, cdk 3/2 and kps 4/3 (small: together 7/5).
# Per province: Utrecht 15/9, Zeeland 12/8, Limburg 8/4 (4 respondents: small, and alone below
# the minimum, so the smallest shown province, Zeeland, joins it in "overig").
CELLS = (
    ("statenlid", "Utrecht", 10, 5),
    ("statenlid", "Zeeland", 6, 3),
    ("statenlid", "Limburg", 4, 2),
    ("gedeputeerde", "Utrecht", 3, 3),
    ("gedeputeerde", "Zeeland", 3, 2),
    ("gedeputeerde", "Limburg", 2, 1),
    ("cdk", "Utrecht", 1, 1),
    ("cdk", "Zeeland", 1, 1),
    ("cdk", "Limburg", 1, 0),
    ("kps", "Utrecht", 1, 0),
    ("kps", "Zeeland", 2, 2),
    ("kps", "Limburg", 1, 1),
)
SCALE = [1] + [2] * 2 + [3] * 5 + [4] * 8 + [5] * 5  # 21 values: mean 77/21
SINGLE = ["Altijd"] * 6 + ["Meestal"] * 9 + ["Soms"] * 4 + ["Nooit"] * 2
# 20 answered, the 21st left it open: brief 12, griffie 11, mondeling 3
MULTIPLE = [list(CHANNELS[:2])] * 3 + [[CHANNELS[0]]] * 9 + [[CHANNELS[1]]] * 5 + [list(CHANNELS[1:])] * 3
TEXTS = [  # in the order they came in; "   " and absent ones are no answers
    "Zeer tevreden\nover de afspraken",
    "   ",
    '=HYPERLINK("http://example.org/x")',
    "agenda's komen te laat",
    "@SUM(1+1)",
    "-minder vergaderen",
    "<b>vet</b> & zo",
    "Prima zo.",
]
TEXTS_SORTED = (
    "-minder vergaderen",
    "<b>vet</b> & zo",
    '=HYPERLINK("http://example.org/x")',
    "@SUM(1+1)",
    "agenda's komen te laat",
    "Prima zo.",
    "Zeer tevreden\nover de afspraken",
)


def current_answers() -> list[dict[str, object]]:
    answers: list[dict[str, object]] = []
    for i in range(21):
        answer: dict[str, object] = {"bekendheid": SCALE[i], "besproken": SINGLE[i]}
        if i < len(MULTIPLE):
            answer["ps-informatie"] = MULTIPLE[i]
        if i < len(TEXTS):
            answer["toelichting"] = TEXTS[i]
        answers.append(answer)
    return answers


@dataclass
class Seeded:
    round: str
    response_ids: list[str]  # in the order the answers were given
    answers: dict[str, dict[str, object]]  # response id → answers


def seed_round(
    session: Session,
    made: SurveyDefinition,
    cells: Sequence[tuple[str | None, str | None, int, int]],
    answers: Sequence[dict[str, object]],
    rng: random.Random,
) -> Seeded:
    """The round with its invitations (per cell) and one response per respondent, in cell order.
    Response ids are random like the real ones (uuid4), drawn from `rng` so a run repeats."""
    survey = Survey(
        round=made.round,
        name=made.name,
        title=made.title,
        anonymous=made.anonymous,
        opens_at=made.opens_at,
        closes_at=made.closes_at,
        started_at=made.opens_at - timedelta(days=1),
        definition=made.to_json(),
    )
    session.add(survey)
    session.flush()
    respondents: list[tuple[str | None, str | None]] = []
    number = 0
    for role, province, invited, responded in cells:
        for i in range(invited):
            number += 1
            contact = Contact(
                public_id=f"{made.round.replace('-', '')}{made.name[:4]}{number:04d}",
                email=f"{made.name}-{made.round}-{number}@example.org".lower(),
                first_name="Test",
                last_name=f"Persoon {number}",
                province=province,
                roles=f",{role},",
                active=True,
                source_file="seed",
                updated_at=made.opens_at,
            )
            session.add(contact)
            session.flush()
            submitted = i < responded
            session.add(
                SurveyInvitation(
                    survey_id=survey.id,
                    contact_id=contact.id,
                    role=role,
                    province=province,
                    invited_at=made.opens_at,
                    submitted=submitted,
                    counted=submitted,  # as if every batch had been written
                )
            )
            if submitted:
                respondents.append((role, province))
    assert len(respondents) == len(answers)
    seeded = Seeded(made.round, [], {})
    for (role, province), answer in zip(respondents, answers, strict=True):
        response_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        session.add(
            SurveyResponse(
                id=response_id, survey_id=survey.id, role=role, province=province, answers=json.dumps(answer)
            )
        )
        seeded.response_ids.append(response_id)
        seeded.answers[response_id] = answer
    return seeded


PREVIOUS_CELLS = (("statenlid", "Utrecht", 10, 6),)
PREVIOUS_ANSWERS = [
    {"bekendheid": v, "besproken": b, "ps-informatie": [CHANNELS[0]]}
    for v, b in zip([2, 3, 3, 4, 4, 5], ["Ja", "Ja", "Nee", "Nee", "Ja", "Ja"], strict=True)
]


def seed_history(session: Session, rng: random.Random) -> Seeded:
    """2026-H2 (the round under test) and rounds around it: only 2026-H1 is its previous round."""
    previous = definition(
        "2026-H1",
        OPENS - timedelta(days=183),
        # besproken had other options: not comparable; ps-informatie other wording, same options
        questions=questions(channels_text="Hoe informeert GS Provinciale Staten?", besproken=("Ja", "Nee")),
    )
    seed_round(session, previous, PREVIOUS_CELLS, PREVIOUS_ANSWERS, rng)
    older = definition("2025-H2", OPENS - timedelta(days=365))
    seed_round(session, older, PREVIOUS_CELLS, [{"bekendheid": 1, "besproken": "Nooit"}] * 6, rng)
    other = definition("2026-X", OPENS - timedelta(days=30), name="andere")  # another survey
    seed_round(session, other, PREVIOUS_CELLS, [{"bekendheid": 5, "besproken": "Altijd"}] * 6, rng)
    later = definition("2027-H1", OPENS + timedelta(days=182))
    seed_round(session, later, PREVIOUS_CELLS, [{"bekendheid": 5, "besproken": "Altijd"}] * 6, rng)
    return seed_round(session, definition("2026-H2", OPENS), CELLS, current_answers(), rng)


@pytest.fixture
def seeded(db: Database, seed: int) -> Seeded:
    with db.session() as session:
        return seed_history(session, random.Random(seed))


@pytest.fixture
def results(db: Database, seeded: Seeded) -> SurveyResults:
    with db.session() as session:
        return compute_results(session, "2026-H2")


# -- response rates and the minimum group size ----------------------------------------------------


def rows(rates: Sequence[GroupRate]) -> list[tuple[str, int | None, int | None]]:
    return [(r.group, r.invited, r.responded) for r in rates]


def test_response_rates_per_role_and_province(results: SurveyResults) -> None:
    assert (results.invited, results.responded, results.min_group_size) == (35, 21, 5)
    assert results.rate == pytest.approx(21 / 35)
    # cdk (3 invited) and kps (4) are too small apart; together 7 invited, 5 responded: shown
    assert rows(results.by_role) == [("Gedeputeerde", 8, 6), ("Statenlid", 20, 10), (SMALL_GROUPS, 7, 5)]
    # Limburg has 4 respondents; alone in "overig" it would be readable as total minus the rest,
    # so the smallest shown province (Zeeland, 8 respondents) joins it
    assert rows(results.by_province) == [("Utrecht", 15, 9), (SMALL_GROUPS, 20, 12)]
    assert results.by_role[0].rate == pytest.approx(6 / 8)


@pytest.mark.parametrize(
    ("members", "minimum", "expected"),
    [
        pytest.param({"a": (10, 6), "b": (5, 5)}, 5, [("a", 10, 6), ("b", 5, 5)], id="all-large"),
        pytest.param(
            {"a": (10, 6), "b": (3, 3), "c": (4, 2)},
            5,
            [("a", 10, 6), (SMALL_GROUPS, 7, 5)],
            id="merged-shown",
        ),
        pytest.param(
            {"a": (10, 6), "b": (9, 8), "c": (3, 1)},
            5,
            [("b", 9, 8), (SMALL_GROUPS, 13, 7)],
            id="merged-too-small-takes-smallest-shown",
        ),
        pytest.param({"a": (3, 2), "b": (4, 1)}, 5, [(SMALL_GROUPS, None, None)], id="all-small-suppressed"),
        pytest.param(
            {"a": (40, 4), "b": (30, 10), "d": (6, 2)},
            5,
            [("b", 30, 10), (SMALL_GROUPS, 46, 6)],
            id="many-invited-few-respondents",
        ),
        pytest.param(
            {"a": (4, 4), "b": (30, 10), "c": (20, 9)},
            5,
            [("b", 30, 10), (SMALL_GROUPS, 24, 13)],
            id="one-small",
        ),
        pytest.param({"a": (2, 1), "b": (1, 1)}, 1, [("a", 2, 1), ("b", 1, 1)], id="minimum-one"),
    ],
)
def test_group_rates_merge_small_groups(
    members: dict[str, tuple[int, int]], minimum: int, expected: list[tuple[str, int | None, int | None]]
) -> None:
    flat = [(g, i < responded) for g, (invited, responded) in members.items() for i in range(invited)]
    assert rows(group_rates(flat, minimum)) == expected


def test_group_rates_no_group_shown_below_the_minimum() -> None:
    """Whatever the sizes, every row with numbers has at least the minimum of both."""
    sizes = [(1, 0), (2, 2), (4, 4), (5, 4), (5, 5), (6, 5), (12, 3), (30, 29)]
    for count in range(1, len(sizes) + 1):
        flat = [(f"g{n}", i < r) for n, (inv, r) in enumerate(sizes[:count]) for i in range(inv)]
        for row in group_rates(flat, 5):
            assert row.is_suppressed or (row.invited >= 5 and row.responded >= 5), (count, row)  # type: ignore[operator]


def test_few_responses_withhold_every_answer(db: Database, seed: int) -> None:
    with db.session() as session:
        cells = [("cdk", "Utrecht", 12, 3)]
        seed_round(session, definition("2026-H2", OPENS), cells, current_answers()[:3], random.Random(seed))
        results = compute_results(session, "2026-H2")
    assert results.answers_withheld
    assert (results.questions, results.responses) == ((), ())
    assert rows(results.by_role) == [(SMALL_GROUPS, None, None)]
    assert parse_csv(export_csv(results)) == [
        ["rol", "provincie", "bekendheid", "besproken", "ps-informatie", "toelichting"]
    ]
    assert charts.round_charts(results) == {}
    with db.session() as session:  # a lower minimum, as a definition may set: shown
        assert compute_results(session, "2026-H2", min_group_size=3).question("bekendheid").n == 3  # type: ignore[union-attr]


def test_unknown_round(db: Database, seeded: Seeded) -> None:
    with db.session() as session, pytest.raises(LookupError, match=r"'2030-H1'.*2025-H2, 2026-H1"):
        compute_results(session, "2030-H1")


# -- answers ------------------------------------------------------------------------------------


def test_scale_distribution_mean_and_sample_sd(results: SurveyResults) -> None:
    scale = results.question("bekendheid")
    assert scale is not None and scale.n == 21
    assert [(o.value, o.label, o.count) for o in scale.options] == [
        ("1", "1 – Helemaal oneens", 1),
        ("2", "2 – Oneens", 2),
        ("3", "3 – Neutraal", 5),
        ("4", "4 – Eens", 8),
        ("5", "5 – Helemaal eens", 5),
    ]
    assert scale.options[3].share == pytest.approx(8 / 21)
    assert scale.mean == pytest.approx(77 / 21)
    # sum of squared deviations 74/3 over n - 1 = 20
    assert scale.sd == pytest.approx(math.sqrt(74 / 3 / 20))


@pytest.mark.parametrize(
    ("question_id", "n", "counts"),
    [
        ("besproken", 21, {"Altijd": 6, "Meestal": 9, "Soms": 4, "Nooit": 2}),
        ("ps-informatie", 20, {CHANNELS[0]: 12, CHANNELS[1]: 11, CHANNELS[2]: 3}),
    ],
)
def test_choice_counts(results: SurveyResults, question_id: str, n: int, counts: dict[str, int]) -> None:
    result = results.question(question_id)
    assert result is not None and result.n == n
    assert {o.value: o.count for o in result.options} == counts
    assert [o.share for o in result.options] == pytest.approx([c / n for c in counts.values()])


def test_open_answers_sorted_not_in_submission_order(results: SurveyResults) -> None:
    texts = results.question("toelichting")
    assert texts is not None
    assert texts.texts == TEXTS_SORTED
    assert texts.n == 7  # the blank one is no answer
    assert list(texts.texts) != [t for t in TEXTS if t.strip()]


@pytest.mark.parametrize(
    ("question", "given", "n", "counts"),
    [
        (questions()[0], [3, 0, 6, "4", True, 5, None], 2, [0, 0, 1, 0, 1]),  # only 1..5 counts
        (questions()[1], ["Soms", "Bestaat niet", ["Soms"], 3], 1, [0, 0, 1, 0]),
        (questions()[2], [[CHANNELS[0], "Anders"], [], "Via de griffie", [CHANNELS[1], 7]], 2, [1, 1, 0]),
    ],
)
def test_values_that_do_not_fit_are_left_out(
    question: Question, given: list[object], n: int, counts: list[int]
) -> None:
    result = question_result(question, [{question.id: value} for value in given])
    assert (result.n, [o.count for o in result.options]) == (n, counts)


# -- the previous round ---------------------------------------------------------------------------


def test_compared_with_the_previous_round_where_questions_match(results: SurveyResults) -> None:
    assert results.previous_round == "2026-H1"  # not 2025-H2 (older), 2027-H1 (later), nor another survey
    scale = results.question("bekendheid")
    assert scale is not None and scale.previous is not None
    before = scale.previous
    assert (before.round, before.n, before.wording_changed) == ("2026-H1", 6, False)
    assert [o.count for o in before.options] == [0, 1, 2, 2, 1]
    assert before.mean == pytest.approx(21 / 6)
    assert before.mean_difference(scale.mean) == pytest.approx(77 / 21 - 21 / 6)
    channels = results.question("ps-informatie")
    assert channels is not None and channels.previous is not None
    assert channels.previous.wording_changed  # same id, type and options: compared, with a note
    assert [o.count for o in channels.previous.options] == [6, 0, 0]
    besproken, texts = results.question("besproken"), results.question("toelichting")
    assert besproken is not None and besproken.previous is None  # other options then
    assert texts is not None and texts.previous is None  # open answers are not compared


def test_no_comparison_when_the_previous_round_had_too_few_responses(db: Database, seed: int) -> None:
    rng = random.Random(seed)
    with db.session() as session:
        earlier = definition("2026-H1", OPENS - timedelta(days=183))
        seed_round(session, earlier, [("statenlid", "Utrecht", 10, 3)], PREVIOUS_ANSWERS[:3], rng)
        seed_round(session, definition("2026-H2", OPENS), CELLS, current_answers(), rng)
        results = compute_results(session, "2026-H2")
    assert results.previous_round == "2026-H1"
    assert all(q.previous is None for q in results.questions)


# -- CSV ---------------------------------------------------------------------------------------------


def parse_csv(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(BOM), newline=""), delimiter=";"))


def test_csv_has_every_response_in_random_id_order(results: SurveyResults, seeded: Seeded, seed: int) -> None:
    text = export_csv(results)
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    header, *data = parse_csv(text)
    assert header == ["rol", "provincie", "bekendheid", "besproken", "ps-informatie", "toelichting"]
    expected = []
    for response_id in sorted(seeded.response_ids):  # random ids, so not the order of answering
        answer = seeded.answers[response_id]
        channels = answer.get("ps-informatie")
        expected.append(
            [
                str(answer["bekendheid"]),
                str(answer["besproken"]),
                "; ".join(channels) if isinstance(channels, list) else "",
                safe_cell(answer.get("toelichting", "")),
            ]
        )
    assert [row[2:] for row in data] == expected, f"response ids from seed {seed}"


def test_csv_neutralises_formulas(results: SurveyResults) -> None:
    texts = {row[5] for row in parse_csv(export_csv(results))[1:]}
    assert {'\'=HYPERLINK("http://example.org/x")', "'@SUM(1+1)", "'-minder vergaderen"} <= texts
    assert "Zeer tevreden\nover de afspraken" in texts  # a line break survives, quoted
    assert not any(t.startswith(("=", "+", "-", "@")) for t in texts)


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+31 6", "'+31 6"),
        ("-5", "-5"),
        ("-7,1", "-7,1"),
        ("-5\n", "'-5\n"),
        ("-1+2", "'-1+2"),
        ("-", "'-"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("a=b", "a=b"),
        (3, "3"),
    ],
)
def test_safe_cell(value: object, cell: str) -> None:
    assert safe_cell(value) == cell


def test_csv_names_role_and_province_only_for_large_enough_pairs(results: SurveyResults) -> None:
    # Only statenlid in Utrecht has 5 respondents; the 16 others are blank in both columns.
    pairs = [(row[0], row[1]) for row in parse_csv(export_csv(results))[1:]]
    assert pairs.count(("Statenlid", "Utrecht")) == 5
    assert pairs.count(("", "")) == 16


@pytest.mark.parametrize(
    ("sizes", "shown"),
    [
        pytest.param({("a", "x"): 6, ("b", "x"): 7}, {("a", "x"), ("b", "x")}, id="all-large"),
        pytest.param({("a", "x"): 6, ("b", "x"): 5, ("c", "y"): 2}, {("a", "x")}, id="blank-rows-too-few"),
        pytest.param({("a", "x"): 6, ("c", "y"): 2, ("d", "y"): 3}, {("a", "x")}, id="blank-rows-enough"),
        pytest.param({("a", "x"): 6, ("c", "y"): 2}, set(), id="everything-blank"),
    ],
)
def test_disclosed_pairs(sizes: dict[tuple[str, str], int], shown: set[tuple[str, str]]) -> None:
    groups = [pair for pair, size in sizes.items() for _ in range(size)]
    assert disclosed_groups(groups, 5) == shown


def test_summary_csv(results: SurveyResults) -> None:
    header, *data = parse_csv(export_summary_csv(results))
    assert header == list(SUMMARY_COLUMNS)
    assert {len(row) for row in data} == {len(header)}
    starts = [row[:6] for row in data]
    assert ["respons", "totaal", "", "21", "35", "60,0"] in starts
    assert ["respons per rol", SMALL_GROUPS, "", "5", "7", "71,4"] in starts
    assert ["respons per provincie", "Utrecht", "", "9", "15", "60,0"] in starts
    eens = next(r for r in data if r[0] == "vraag bekendheid" and r[2] == "4 – Eens")
    # 8 of 21 now (38,1%), 2 of 6 in 2026-H1 (33,3%): 4,8 percentage points more
    assert eens[3:] == ["8", "21", "38,1", "", "", "2026-H1", "2", "6", "33,3", "", "4,8"]
    oneens = next(r for r in data if r[0] == "vraag bekendheid" and r[2] == "2 – Oneens")
    assert oneens[-1] == "-7,1"  # a negative number stays a number, not an apostrophed text
    mean = next(r for r in data if r[0] == "vraag bekendheid" and r[2] == "gemiddelde")
    assert mean[4:] == ["21", "", "3,7", "1,1", "2026-H1", "", "6", "", "3,5", "0,2"]
    texts = [r[2] for r in data if r[0] == "vraag toelichting"]
    assert texts == [safe_cell(t) for t in TEXTS_SORTED]


# -- charts --------------------------------------------------------------------------------------

_DESC_ITEM = re.compile(r"([^.:]+?): (\d+) \((\d+,\d)%\)\.")


def test_charts_are_valid_svg_whose_description_has_the_numbers(results: SurveyResults) -> None:
    made = charts.round_charts(results)
    assert set(made) == {"bekendheid", "besproken", "ps-informatie"}  # no chart for open answers
    for question_id, svg in made.items():
        result = results.question(question_id)
        assert result is not None
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert int(root.get("width", "0")) == charts.WIDTH and int(root.get("height", "0")) > 100
        title_id, desc_id = root.get("aria-labelledby", "").split()
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and desc is not None
        assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
        assert result.question.text in (title.text or "")
        said = _DESC_ITEM.findall(desc.text or "")
        now = [(o.label, str(o.count), f"{o.share * 100:.1f}".replace(".", ",")) for o in result.options]
        before = result.previous
        then = (
            [(o.label, str(o.count), f"{o.share * 100:.1f}".replace(".", ",")) for o in before.options]
            if before
            else []
        )
        assert [(label.strip(), c, p) for label, c, p in said] == now + then
        assert f"{result.n} antwoorden" in (desc.text or "")
        sizes = [int(t.get("font-size", "0")) for t in root.iter(f"{SVG}text")]
        assert sizes and min(sizes) >= 12


def test_chart_description_gives_mean_sd_and_difference(results: SurveyResults) -> None:
    root = ET.fromstring(charts.round_charts(results)["bekendheid"])
    desc = root.findtext(f"{SVG}desc") or ""
    assert "gemiddelde 3,7 · standaardafwijking 1,1" in desc
    assert "Vorige ronde 2026-H1, 6 antwoorden:" in desc
    assert "Verschil in gemiddelde +0,2." in desc


def test_chart_escapes_text_and_drops_what_xml_cannot_hold() -> None:
    hostile = ("<script>alert(1)</script>", 'A & "B"', "nul\x00byte\x1b", "]]> " + "lang " * 40)
    question = Question("q", QuestionType.SINGLE, 'Vraag <met> & "tekens"\x07', options=hostile)
    result = question_result(question, [{"q": o} for o in hostile] + [{"q": hostile[0]}])
    svg = charts.question_chart(result, "2026-H2")
    assert svg is not None and "<script" not in svg
    root = ET.fromstring(svg)
    desc = root.findtext(f"{SVG}desc") or ""
    assert "<script>alert(1)</script>: 2 (40,0%)." in desc
    assert 'A & "B": 1 (20,0%).' in desc and "nulbyte: 1 (20,0%)." in desc
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert max(len(t) for t in texts) <= charts.LABEL_CHARS + 2  # long labels wrap (and are cut at two lines)


# -- the CLI report --------------------------------------------------------------------------------


@pytest.fixture
def service(project: Path) -> Iterator[Service]:
    config, problems = load_config(project / "comms.toml")
    assert config is not None, problems
    opened = Service.open(config)
    yield opened
    opened.db.dispose()


def test_print_results_writes_csv_and_charts(service: Service, tmp_path: Path, seed: int) -> None:
    with service.db.session() as session:
        seed_history(session, random.Random(seed))
    console = Console(record=True, width=200, highlight=False, markup=False)
    csv_path = tmp_path / "uit" / "antwoorden.csv"
    print_results(surveys.results(service, "2026-H2", csv_path, tmp_path / "grafieken"), console)
    shown = " ".join(console.export_text().split())  # as one line: rich wraps captions
    for expected in (
        "Evaluatie van het pamflet 2026-H2",
        "overig (kleine groepen)",
        "4 – Eens",
        "38,1%",
        "mean 3,7; sd 1,1; 2026-H1: n = 6; mean then 3,5; difference +0,2",
        "the question's wording changed since",
        "– <b>vet</b> & zo – =HYPERLINK",
    ):
        assert expected in shown, expected
    assert csv_path.read_text(encoding="utf-8").startswith(BOM)
    assert summary_path_for(csv_path) == tmp_path / "uit" / "antwoorden-totalen.csv"
    assert summary_path_for(csv_path).is_file()
    written = sorted(p.name for p in (tmp_path / "grafieken").iterdir())
    assert written == ["2026-H2-bekendheid.svg", "2026-H2-besproken.svg", "2026-H2-ps-informatie.svg"]
    for path in (tmp_path / "grafieken").iterdir():
        ET.parse(path)


def test_results_of_an_unknown_round(service: Service) -> None:
    with pytest.raises(UnknownRound, match="no survey round '2030-H1' was started"):
        surveys.results(service, "2030-H1")


# -- the team's results page ------------------------------------------------------------------------


@pytest.fixture
def site(service: Service, seed: int) -> Iterator[tuple[httpx.Client, FixedClock]]:
    with service.db.session() as session:
        seed_history(session, random.Random(seed))
    clock = FixedClock(NOW)
    app = create_app(service, clock)  # with the results routes
    with (
        serve(app) as base_url,
        httpx.Client(base_url=base_url, event_hooks={"response": [check_response]}, timeout=10) as client,
    ):
        yield client, clock


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def test_results_page(service: Service, site: tuple[httpx.Client, FixedClock]) -> None:
    client, _ = site
    response = client.get(path_of(results_link(service, "2026-H2", NOW)))
    assert response.status_code == 200
    page = response.text
    assert "<h1>Resultaten: Evaluatie van het pamflet 2026-H2</h1>" in page
    assert (
        '<caption id="tabel-respons-rol">Respons per rol</caption>' in page
        and '<th scope="col">Provincie</th>' in page
    )
    assert '<th scope="row">overig (kleine groepen)</th>' in page
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg"') == 3
    assert "&lt;b&gt;vet&lt;/b&gt; &amp; zo" in page and "<b>vet</b>" not in page
    assert "<script" not in page
    assert '<td class="number">+4,8</td>' in page  # 4 – Eens: 38,1% now, 33,3% in 2026-H1
    assert 'href="/static/survey-results.css"' in page
    css = client.get("/static/survey-results.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".results svg" in css.text


def forged(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize(
    ("make_token", "status", "says"),
    [
        pytest.param(
            lambda s: s.sign(Purpose.PREVIEW, "enquete-2026-H2", "team", NOW + timedelta(seconds=1)),
            410,
            "Deze resultatenlink is verlopen",
            id="expired",
        ),
        pytest.param(
            lambda s: s.sign(Purpose.PREVIEW, "nieuwsbrief-2026-12", "team", NOW + timedelta(days=1)),
            403,
            "hoort bij een andere pagina",
            id="edition-preview",
        ),
        pytest.param(
            lambda s: s.sign(Purpose.SURVEY, "enquete-2026-H2", "team", NOW + timedelta(days=1)),
            403,
            "hoort bij een andere pagina",
            id="survey-token",
        ),
        pytest.param(
            lambda s: s.sign(Purpose.PREVIEW, "enquete-2026-H2", "2026-H2", NOW + timedelta(days=1)),
            403,
            "hoort bij een andere pagina",
            id="other-scope",
        ),
        pytest.param(
            lambda s: s.sign(Purpose.PREVIEW, "enquete-2030-H1", "team", NOW + timedelta(days=1)),
            404,
            "Deze pagina bestaat niet",
            id="unknown-round",
        ),
        pytest.param(
            lambda s: forged(s.sign(Purpose.PREVIEW, "enquete-2026-H2", "team", NOW)),
            400,
            "werkt niet",
            id="forged",
        ),
        pytest.param(lambda s: "onzin", 400, "werkt niet", id="malformed"),
    ],
)
def test_results_page_refuses_other_links(
    service: Service,
    site: tuple[httpx.Client, FixedClock],
    make_token: Callable[[Signer], str],
    status: int,
    says: str,
) -> None:
    client, clock = site
    token = make_token(service.signer())
    clock.moment = NOW + timedelta(seconds=1)
    response = client.get(f"/resultaten/{token}")
    assert (response.status_code, says in response.text) == (status, True), response.text
    assert "Statenlid" not in response.text


def test_results_link_lasts_thirty_days(service: Service, site: tuple[httpx.Client, FixedClock]) -> None:
    client, clock = site
    link = path_of(results_link(service, "2026-H2", NOW))
    clock.moment = NOW + RESULTS_LINK_LIFETIME - timedelta(seconds=1)
    assert client.get(link).status_code == 200
    clock.moment = NOW + RESULTS_LINK_LIFETIME
    assert client.get(link).status_code == 410
    with pytest.raises(UnknownRound):
        results_link(service, "2030-H1", NOW)


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.slow
def test_results_page_passes_axe_in_a_browser(
    service: Service, site: tuple[httpx.Client, FixedClock]
) -> None:
    """axe-core in Debian's Chromium (as tests/web/test_survey_accessibility.py); skipped without them,
    except in CI."""
    try:
        from axe_playwright_python.sync_playwright import Axe
        from playwright.sync_api import sync_playwright
    except ImportError as missing:
        reason = f"{missing.name} is not installed"
    else:
        reason = None if os.access(CHROMIUM, os.X_OK) else f"no Chromium at {CHROMIUM}"
    if reason is not None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"the accessibility check cannot run in CI: {reason}")
        pytest.skip(reason)
    client, _ = site
    url = str(client.base_url).rstrip("/") + path_of(results_link(service, "2026-H2", NOW))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            for width in (1024, 360):
                page = browser.new_page(viewport={"width": width, "height": 800}, locale="nl-NL")
                page.goto(url)
                violations = Axe().run(page).response["violations"]
                assert violations == [], [
                    (v["id"], [n["html"][:120] for n in v["nodes"]]) for v in violations
                ]
                assert page.locator("svg[role=img]").count() == 3
                assert page.locator("script").count() == 0
                # the page itself never scrolls sideways; a wide table scrolls in its own region
                assert page.evaluate("() => document.documentElement.scrollWidth") <= width
                page.close()
        finally:
            browser.close()
