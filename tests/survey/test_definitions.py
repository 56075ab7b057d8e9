"""templates/surveys/*.toml: reading and checking definitions, snapshots, and checking posted answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from comms.dates import AMSTERDAM
from comms.problems import Severity
from comms.survey.definitions import (
    AnswerCheck,
    Question,
    QuestionType,
    ReminderPolicy,
    SurveyDefinition,
    check_answers,
    check_surveys,
    clean_text,
    load_survey_definitions,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "templates" / "surveys"

# Line numbers in the cases below refer to this text; every replacement keeps them.
VALID = """\
title = "Evaluatie"
introduction = "Inleiding"
round = "2026-H2"
opens = 2026-12-01T09:00:00
closes = 2026-12-22T17:00:00
anonymous = true

[audience]
roles = ["gedeputeerde", "statenlid"]
provinces = ["Utrecht"]

[reminders]
first_after_days = 7
min_days_between = 5
max = 2

[[questions]]
id = "schaal"
type = "scale"
text = "Schaalvraag"
labels = ["Nooit", "Zelden", "Soms", "Vaak", "Altijd"]

[[questions]]
id = "enkel"
type = "single"
text = "Enkelvoudig"
options = ["Ja", "Nee"]

[[questions]]
id = "meer"
type = "multiple"
text = "Meervoudig"
options = ["Appel", "Peer", "Banaan"]

[[questions]]
id = "open"
type = "text"
text = "Open"
required = false
max_length = 100
"""
LABELS = 'labels = ["Nooit", "Zelden", "Soms", "Vaak", "Altijd"]'


def write(directory: Path, text: str, name: str = "pamflet") -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> tuple[list[SurveyDefinition], list]:
    write(tmp_path / "surveys", text)
    return load_survey_definitions(tmp_path / "surveys")


def valid_definition(tmp_path: Path) -> SurveyDefinition:
    definitions, problems = load_text(tmp_path, VALID)
    assert problems == []
    return definitions[0]


# -- loading ------------------------------------------------------------------------------


def test_valid_file_loads(tmp_path: Path) -> None:
    definition = valid_definition(tmp_path)
    assert definition.name == "pamflet"
    assert definition.round == "2026-H2"
    assert definition.opens_at == datetime(2026, 12, 1, 8, tzinfo=UTC)  # 09:00 CET
    assert definition.closes_at == datetime(2026, 12, 22, 16, tzinfo=UTC)
    assert definition.roles == {"gedeputeerde", "statenlid"}
    assert definition.provinces == {"Utrecht"}
    assert definition.reminders == ReminderPolicy(7, 5, 2)
    assert definition.anonymous and definition.min_group_size == 5
    assert [q.id for q in definition.questions] == ["schaal", "enkel", "meer", "open"]
    assert definition.question("meer") == Question(
        "meer", QuestionType.MULTIPLE, "Meervoudig", options=("Appel", "Peer", "Banaan")
    )
    assert definition.question("open").required is False
    assert definition.question("open").max_length == 100
    assert definition.question("onbekend") is None


def test_example_file_loads_without_problems() -> None:
    definitions, problems = load_survey_definitions(EXAMPLE)
    assert problems == []
    assert check_surveys(EXAMPLE) == []
    (pamflet,) = [d for d in definitions if d.name == "pamflet"]
    assert pamflet.round == "2026-H2" and pamflet.anonymous
    assert pamflet.provinces == frozenset()  # all
    assert {q.type for q in pamflet.questions} == set(QuestionType)
    assert 6 <= len(pamflet.questions) <= 8
    assert "\\" not in pamflet.introduction and pamflet.introduction.startswith("Het IPO-bestuur")


@pytest.mark.parametrize(
    ("old", "new", "reason", "line"),
    [
        ('id = "enkel"', 'id = "schaal"', "question 2: id 'schaal' is used before, by question 1", 24),
        ('id = "meer"', 'id = "Meer keuze"', "question 3: id 'Meer keuze' is not valid", 30),
        ('id = "meer"', 'id = "meer!"', "question 3: id 'meer!' is not valid", 30),
        ('id = "meer"', 'id = "action"', "'action' is a name the form uses itself", 30),
        ('id = "meer"', "id = 3", "question 3: id must be text in quotes, not 3", 30),
        ('type = "multiple"', 'type = "ranking"', "question 3: unknown type 'ranking'", 31),
        (LABELS, "", "question 1: a scale needs exactly 5 labels", 19),
        (LABELS, 'labels = ["Nee", "Ja"]', "a scale needs exactly 5 labels in quotes, for 1 to 5", 21),
        (LABELS, 'labels = ["1", "2", "", "4", "5"]', "a scale needs exactly 5 labels", 21),
        (LABELS, 'labels = ["1", "2", "3", "4", "5", "6"]', "it has 6", 21),
        (
            'options = ["Ja", "Nee"]',
            'options = ["Ja"]',
            "question 2: needs options, a list of at least 2",
            27,
        ),
        ('options = ["Ja", "Nee"]', "", "question 2: needs options", 25),
        ('options = ["Ja", "Nee"]', "options = []", "it has 0", 27),
        ('"Peer", "Banaan"]', '"Peer", "Appel"]', "question 3: option 'Appel' is listed more than once", 33),
        ('"Peer", "Banaan"]', '\n "Peer",\n "Appel",\n]', "option 'Appel' is listed more than once", 35),
        ("max_length = 100", "max_length = 0", "question 4: max_length must be from 1 to 10000, not 0", 40),
        ("max_length = 100", "max_length = 10001", "max_length must be from 1 to 10000, not 10001", 40),
        ("max_length = 100", 'max_length = "lang"', "question 4: max_length must be a whole number", 40),
        (
            '"Altijd"]\n',
            '"Altijd"]\nmax_length = 5\n',
            "max_length belongs to text questions, not to scale",
            22,
        ),
        ('"Nee"]\n', '"Nee"]\n' + LABELS + "\n", "labels belongs to scale questions, not to single", 28),
        ("closes = 2026-12-22T17:00:00", "closes = 2026-11-22T17:00:00", "closes must be after opens", 5),
        ("closes = 2026-12-22T17:00:00", "closes = 2026-12-01T09:00:00", "closes must be after opens", 5),
        ("closes = 2026-12-22T17:00:00", "closes = 2026-11-30", "closes must be after opens", 5),
        ("opens = 2026-12-01T09:00:00", 'opens = "2026-12-01 09:00"', "opens must be a date or a date", 4),
        ("opens = 2026-12-01T09:00:00", "opens = 09:00:00", "opens must be a date or a date and time", 4),
        (
            'round = "2026-H2"',
            'round = "2026-H3"',
            "round '2026-H3' is not valid: write the year and half",
            3,
        ),
        ('round = "2026-H2"', 'round = "2026H2"', "round '2026H2' is not valid", 3),
        ('round = "2026-H2"', 'round = "26-H2"', "round '26-H2' is not valid", 3),
        ('round = "2026-H2"', 'round = "najaar 2026"', "round 'najaar 2026' is not valid", 3),
        ('round = "2026-H2"', "round = 2026", "round must be text in quotes, not 2026", 3),
        (
            '"statenlid"]',
            '"burgemeester"]',
            "[audience] roles: unknown role 'burgemeester'; known: statenlid",
            9,
        ),
        ("roles = [", "roles = [] #", "[audience] roles is missing or empty", 9),
        ('"Utrecht"]', '"Holland"]', "[audience] provinces: unknown province 'Holland'", 10),
        ('provinces = ["Utrecht"]', 'provinces = "Utrecht"', "[audience] provinces must be a list", 10),
        (
            "first_after_days = 7",
            "first_after_days = -1",
            "[reminders] first_after_days must be 0 or more",
            13,
        ),
        (
            "min_days_between = 5",
            "min_days_between = -3",
            "[reminders] min_days_between must be 0 or more",
            14,
        ),
        ("max = 2", "max = -1", "[reminders] max must be 0 or more, not -1", 15),
        ("max = 2", "max = 11", "[reminders] max must be at most 10, not 11", 15),
        ("min_days_between = 5", "min_days_between = 0", "min_days_between must be 1 or more when max", 14),
        ("max = 2", "max = 2.5", "[reminders] max must be a whole number, not 2.5", 15),
        ("max = 2", "max = true", "[reminders] max must be a whole number, not True", 15),
        ("anonymous = true", "anonymus = true", "unknown key 'anonymus' (did you mean 'anonymous'?)", 6),
        ("anonymous = true", 'anonymous = "ja"', "anonymous must be true or false", 6),
        ("anonymous = true", "min_group_size = 0", "min_group_size must be 1 or more, not 0", 6),
        (
            "anonymous = true",
            "min_group_size = 1",
            "min_group_size must be 2 or more in an anonymous round",
            6,
        ),
        ("required = false", "verplicht = false", "question 4: unknown key 'verplicht'", 39),
        ("required = false", "requird = false", "unknown key 'requird' (did you mean 'required'?)", 39),
        ("required = false", 'required = "nee"', "question 4: required must be true or false", 39),
        ("max = 2", "maximum = 2", "[reminders] unknown key 'maximum' (did you mean 'max'?)", 15),
        ('provinces = ["Utrecht"]', 'provincie = ["Utrecht"]', "[audience] unknown key 'provincie'", 10),
        ('text = "Open"', 'text = " "', "question 4: text is empty", 38),
        ('text = "Open"', "", "question 4: text is missing", 35),
        ('id = "open"', "", "question 4: id is missing", 35),
        ('type = "text"', "", "question 4: type is missing", 35),
        ('title = "Evaluatie"', "", "title is missing", None),
        ('title = "Evaluatie"', 'title = "Evaluatie', "not valid TOML", 1),
        ('round = "2026-H2"', "", "round is missing", None),
        ("opens = 2026-12-01T09:00:00", "", "opens is missing", None),
        ("closes = 2026-12-22T17:00:00", "", "closes is missing", None),
        ("[audience]", "[publiek]", "unknown key 'publiek'", 8),
    ],
)
def test_bad_definition(tmp_path: Path, old: str, new: str, reason: str, line: int | None) -> None:
    assert old in VALID
    definitions, problems = load_text(tmp_path, VALID.replace(old, new, 1))
    assert definitions == []
    found = [p for p in problems if reason in p.reason]
    assert found, [str(p) for p in problems]
    assert found[0].where == str(tmp_path / "surveys" / "pamflet.toml")
    assert found[0].line == line, str(found[0])
    assert found[0].is_error


def test_missing_questions(tmp_path: Path) -> None:
    text = VALID[: VALID.index("[[questions]]")]
    definitions, problems = load_text(tmp_path, text)
    assert definitions == []
    assert [p.reason for p in problems] == [
        "questions are missing: add [[questions]] tables, each with id, type and text"
    ]


def test_missing_audience(tmp_path: Path) -> None:
    text = VALID.replace('[audience]\nroles = ["gedeputeerde", "statenlid"]\nprovinces = ["Utrecht"]\n', "")
    definitions, problems = load_text(tmp_path, text)
    assert definitions == []
    assert [p.reason for p in problems] == [
        '[audience] is missing: add roles = ["gedeputeerde", "statenlid"] under [audience]'
    ]


def test_every_problem_of_a_file_is_reported_together(tmp_path: Path) -> None:
    text = (
        VALID.replace('id = "enkel"', 'id = "schaal"')
        .replace(LABELS, "")
        .replace("closes = 2026-12-22T17:00:00", "closes = 2026-11-01T17:00:00")
        .replace('"Utrecht"]', '"Holland"]')
        .replace("max = 2", "max = 12")
    )
    _, problems = load_text(tmp_path, text)
    assert [p.line for p in problems] == [5, 10, 15, 19, 24]
    assert {p.subject for p in problems if p.line in (19, 24)} == {"schaal"}


def test_the_same_round_twice_names_both_files(tmp_path: Path) -> None:
    directory = tmp_path / "surveys"
    first, second = write(directory, VALID, "pamflet"), write(directory, VALID, "pamflet-kopie")
    definitions, problems = load_survey_definitions(directory)
    assert definitions == []
    assert sorted(p.where for p in problems) == sorted([str(first), str(second)])
    for problem in problems:
        assert f"in {second} and {first}" in problem.reason  # sorted by file name
        assert problem.line == 3


def test_a_broken_file_leaves_the_others(tmp_path: Path) -> None:
    directory = tmp_path / "surveys"
    write(directory, VALID, "goed")
    write(
        directory,
        VALID.replace('round = "2026-H2"', 'round = "2027-H1"').replace("max = 2", "max = 99"),
        "fout",
    )
    definitions, problems = load_survey_definitions(directory)
    assert [d.name for d in definitions] == ["goed"]
    assert [Path(p.where).name for p in problems] == ["fout.toml"]


def test_no_folder_no_surveys(tmp_path: Path) -> None:
    assert load_survey_definitions(tmp_path / "nothing") == ([], [])


def test_first_reminder_after_closing_is_a_warning(tmp_path: Path) -> None:
    text = VALID.replace("closes = 2026-12-22T17:00:00", "closes = 2026-12-05T17:00:00")
    definitions, problems = load_text(tmp_path, text)
    assert len(definitions) == 1  # a warning does not stop the round
    assert [(p.severity, p.line) for p in problems] == [(Severity.WARNING, 13)]
    assert "no reminder will be sent" in problems[0].reason


def test_no_reminders_is_no_warning(tmp_path: Path) -> None:
    text = VALID.replace("closes = 2026-12-22T17:00:00", "closes = 2026-12-05T17:00:00")
    definitions, problems = load_text(tmp_path, text.replace("max = 2", "max = 0"))
    assert problems == [] and definitions[0].reminders.max_reminders == 0


def test_defaults(tmp_path: Path) -> None:
    text = (
        VALID.replace("anonymous = true", "")
        .replace("[reminders]\nfirst_after_days = 7\nmin_days_between = 5\nmax = 2\n", "")
        .replace('provinces = ["Utrecht"]', "")
        .replace('introduction = "Inleiding"', "")
        .replace("max_length = 100", "")
    )
    definitions, problems = load_text(tmp_path, text)
    assert problems == []
    (definition,) = definitions
    assert definition.anonymous is True
    assert definition.reminders == ReminderPolicy(first_after_days=7, min_days_between=5, max_reminders=2)
    assert definition.provinces == frozenset()
    assert definition.introduction == ""
    assert definition.question("open").max_length == 2000


@pytest.mark.parametrize(
    ("opens", "closes", "opens_at", "closes_at"),
    [
        # winter (CET, +01:00) and summer (CEST, +02:00) wall-clock times
        ("2026-12-01T09:00:00", "2026-12-22T17:00:00", datetime(2026, 12, 1, 8), datetime(2026, 12, 22, 16)),
        ("2027-06-01T09:00:00", "2027-06-22T17:00:00", datetime(2027, 6, 1, 7), datetime(2027, 6, 22, 15)),
        # a date alone: from the start of the first day to the end of the last
        ("2026-12-01", "2026-12-22", datetime(2026, 11, 30, 23), datetime(2026, 12, 22, 23)),
        ("2027-06-01", "2027-06-22", datetime(2027, 5, 31, 22), datetime(2027, 6, 22, 22)),
        ("2026-12-01T09:00:00", "2026-12-01", datetime(2026, 12, 1, 8), datetime(2026, 12, 1, 23)),
        # summer time starts 2027-03-28: the night is one hour shorter
        ("2027-03-27", "2027-03-28", datetime(2027, 3, 26, 23), datetime(2027, 3, 28, 22)),
        # an offset is taken as written
        (
            "2026-12-01T09:00:00+00:00",
            "2026-12-22T17:00:00Z",
            datetime(2026, 12, 1, 9),
            datetime(2026, 12, 22, 17),
        ),
    ],
)
def test_local_dates(
    tmp_path: Path, opens: str, closes: str, opens_at: datetime, closes_at: datetime
) -> None:
    text = VALID.replace("opens = 2026-12-01T09:00:00", f"opens = {opens}").replace(
        "closes = 2026-12-22T17:00:00", f"closes = {closes}"
    )
    definitions, problems = load_text(tmp_path, text)
    assert [p for p in problems if p.is_error] == []
    assert definitions[0].opens_at == opens_at.replace(tzinfo=UTC)
    assert definitions[0].closes_at == closes_at.replace(tzinfo=UTC)


def test_roles_and_provinces_as_people_write_them(tmp_path: Path) -> None:
    text = VALID.replace(
        '["gedeputeerde", "statenlid"]', '["GS", "Statenleden", "provinciesecretaris"]'
    ).replace('["Utrecht"]', '["friesland", "NOORD HOLLAND"]')
    definitions, problems = load_text(tmp_path, text)
    assert problems == []
    assert definitions[0].roles == {"gedeputeerde", "statenlid", "kps"}
    assert definitions[0].provinces == {"Fryslân", "Noord-Holland"}


# -- the definition -----------------------------------------------------------------------


def test_json_snapshot_round_trip(tmp_path: Path) -> None:
    examples, _ = load_survey_definitions(EXAMPLE)
    for definition in [valid_definition(tmp_path), *examples]:
        copy = SurveyDefinition.from_json(definition.to_json())
        assert copy == definition
        assert copy.opens_at.tzinfo is not None


def test_json_snapshot_of_another_version_is_refused(tmp_path: Path) -> None:
    text = valid_definition(tmp_path).to_json().replace('"version": 1', '"version": 2')
    with pytest.raises(ValueError, match="version 2"):
        SurveyDefinition.from_json(text)


@pytest.mark.parametrize(
    ("offset", "is_open"),
    [
        (-timedelta(microseconds=1), False),
        (timedelta(0), True),
        (timedelta(days=21, hours=8) - timedelta(microseconds=1), True),  # just before closes_at
        (timedelta(days=21, hours=8), False),  # closes_at itself
        (timedelta(days=60), False),
    ],
)
def test_is_open(tmp_path: Path, offset: timedelta, is_open: bool) -> None:
    definition = valid_definition(tmp_path)
    assert definition.is_open(definition.opens_at + offset) is is_open


@pytest.mark.parametrize(
    ("role", "province", "included"),
    [
        ("gedeputeerde", "Utrecht", True),
        ("statenlid", "Utrecht", True),
        ("griffier", "Utrecht", False),
        ("gedeputeerde", "Zeeland", False),
        ("gedeputeerde", None, False),
        (None, "Utrecht", False),
    ],
)
def test_includes(tmp_path: Path, role: str | None, province: str | None, included: bool) -> None:
    assert valid_definition(tmp_path).includes(role, province) is included


INVITED = datetime(2026, 12, 1, 8, tzinfo=UTC)  # 9.00 in Amsterdam
# Due from the start of the day (Dutch time), so the day's first run sends it, whatever the hour.
DAY_8 = datetime(2026, 12, 7, 23, tzinfo=UTC)  # 8 December 0.00 in Amsterdam
DAY_13 = datetime(2026, 12, 12, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "last", "due"),
    [
        (0, None, DAY_8),
        (1, DAY_8 + timedelta(hours=10), DAY_13),  # reminded at 9.00 on the 8th: the 13th
        (2, DAY_13 + timedelta(hours=10), None),
    ],
)
def test_next_reminder(sent: int, last: datetime | None, due: datetime | None) -> None:
    assert ReminderPolicy(7, 5, 2).next_reminder_at(INVITED, sent, last) == due


@pytest.mark.parametrize(
    ("invited", "days", "first_run_that_sends"),
    [
        ("2026-12-01 09:00", 7, "2026-12-08 08:00"),  # the survey schedule builds at 8.00
        ("2026-12-01 23:30", 7, "2026-12-08 08:00"),  # late in the day: still that day's count
        ("2026-12-04 09:00", 3, "2026-12-07 08:00"),  # due on a Monday
        ("2027-03-25 09:00", 7, "2027-04-01 08:00"),  # across the change to summer time
        ("2026-12-01 09:00", 0, "2026-12-01 09:00"),  # 0: at the next run, the same day
    ],
)
def test_the_first_reminder_is_due_on_the_day_the_policy_names(
    invited: str, days: int, first_run_that_sends: str
) -> None:
    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=AMSTERDAM).astimezone(UTC)

    due = ReminderPolicy(days, 5, 2).next_reminder_at(moment(invited), 0, None)
    assert due is not None
    run = moment(first_run_that_sends)
    assert due <= run and not due <= run - timedelta(days=1)  # that run, not the day before's


# -- answers ------------------------------------------------------------------------------

REQUIRED = "Deze vraag is verplicht"
SCALE = "Kies een waarde van 1 tot en met 5."
SINGLE = "Kies één van de antwoorden."
ALL_VALID = {"schaal": ["4"], "enkel": ["Ja"], "meer": ["Banaan", "Appel"], "open": ["  Prima  "]}


@pytest.mark.parametrize(
    ("form", "final", "answers", "errors"),
    [
        (ALL_VALID, True, {"schaal": 4, "enkel": "Ja", "meer": ["Appel", "Banaan"], "open": "Prima"}, {}),
        ({**ALL_VALID, "action": ["verzenden"], "onbekend": ["x"]}, True, None, {}),  # other fields ignored
        ({}, False, {}, {}),  # an empty draft
        ({"schaal": ["5"]}, False, {"schaal": 5}, {}),
        ({"schaal": ["1"], "open": [""]}, False, {"schaal": 1}, {}),
        # final: required questions must be answered, optional ones may stay empty
        ({k: v for k, v in ALL_VALID.items() if k != "open"}, True, None, {}),
        ({"schaal": ["4"]}, True, {"schaal": 4}, {"enkel": REQUIRED, "meer": REQUIRED}),
        ({**ALL_VALID, "meer": []}, True, None, {"meer": "Deze vraag is verplicht: kies ten minste één"}),
        ({**ALL_VALID, "enkel": ["  "]}, True, None, {"enkel": "Deze vraag is verplicht: kies één van"}),
        ({**ALL_VALID, "schaal": [""]}, True, None, {"schaal": "Deze vraag is verplicht: kies een waarde"}),
        # scale: 1 to 5 only
        *[
            ({"schaal": [value]}, False, {}, {"schaal": SCALE})
            for value in ("0", "6", "3.5", "abc", "-1", "05")
        ],
        ({"schaal": ["3", "4"]}, False, {}, {"schaal": SCALE}),
        ({"schaal": [" 3 "]}, False, {"schaal": 3}, {}),
        # single: exactly one of the options, as written
        ({"enkel": ["Misschien"]}, False, {}, {"enkel": SINGLE}),
        ({"enkel": ["ja"]}, False, {}, {"enkel": SINGLE}),
        ({"enkel": ["Ja", "Nee"]}, False, {}, {"enkel": SINGLE}),
        # multiple: a subset, each once, kept in the order of the options
        ({"meer": ["Peer"]}, False, {"meer": ["Peer"]}, {}),
        ({"meer": ["Peer", "Kiwi"]}, False, {}, {"meer": "Kies alleen uit de genoemde antwoorden."}),
        ({"meer": ["Peer", "Peer"]}, False, {}, {"meer": "Kies elk antwoord hoogstens één keer."}),
        ({"meer": ["", "Peer"]}, False, {"meer": ["Peer"]}, {}),  # a hidden empty field
        # text: stripped, cleaned, at most max_length characters
        ({"open": ["a" * 100]}, False, {"open": "a" * 100}, {}),
        ({"open": ["a" * 101]}, False, {}, {"open": "Uw antwoord is te lang: maximaal 100 tekens (nu 101)."}),
        ({"open": ["regel 1\r\nregel 2\x00\x07"]}, False, {"open": "regel 1\nregel 2"}, {}),
        ({"open": ["\x00\x01"]}, False, {}, {}),
        ({"open": ["één", "twee"]}, False, {}, {"open": "Vul één antwoord in."}),
        # a draft keeps what is valid next to what is not
        ({"schaal": ["9"], "enkel": ["Nee"]}, False, {"enkel": "Nee"}, {"schaal": SCALE}),
    ],
)
def test_check_answers(
    tmp_path: Path,
    form: dict[str, list[str]],
    final: bool,
    answers: dict | None,
    errors: dict[str, str],
) -> None:
    check = check_answers(valid_definition(tmp_path), form, final=final)
    assert isinstance(check, AnswerCheck)
    if answers is not None:
        assert check.answers == answers
    assert check.errors.keys() == errors.keys()
    for question_id, message in errors.items():
        assert check.errors[question_id].startswith(message)
    assert check.has_errors is bool(errors)


def test_required_open_question(tmp_path: Path) -> None:
    definitions, _ = load_text(tmp_path, VALID.replace("required = false", "required = true"))
    form = {**ALL_VALID, "open": ["\x00 \x01"]}  # nothing left after cleaning
    check = check_answers(definitions[0], form, final=True)
    assert check.errors == {"open": "Deze vraag is verplicht: vul een antwoord in."}


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  tekst \n", "tekst"),
        ("a\r\nb\rc", "a\nb\nc"),
        ("a\tb", "a b"),
        ("a\x00b\x1bc\x7f", "abc"),
        ("abc\u202edef", "abcdef"),  # a right-to-left override
        ("Fryslân 👍", "Fryslân 👍"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
