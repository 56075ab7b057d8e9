"""templates/surveys/*.toml: one survey round per file (the file stem is its name), read and checked.

    title = "Evaluatie van het pamflet 2026-H2"
    introduction = "…"
    round = "2026-H2"                 # YYYY-H1 or YYYY-H2: one round per half year
    opens = 2026-12-01T09:00:00       # Europe/Amsterdam wall-clock time
    closes = 2026-12-22T17:00:00
    anonymous = true                  # optional, default true
    min_group_size = 5                # optional, default 5: smaller groups are not shown apart, and
                                      # anonymous answers are written k or more at a time (≥ 2)
    [audience]
    roles = ["gedeputeerde", "statenlid"]   # required, comms.domain.ROLES (aliases such as "GS" too)
    provinces = []                    # optional, empty or absent = all twelve
    [reminders]                       # optional, default 7 / 5 / 2
    first_after_days = 7
    min_days_between = 5
    max = 2                           # 0 = no reminders, at most 10
    [[questions]]
    id = "bekendheid"                 # a-z, 0-9, - and _; unique; not a form field name (RESERVED_IDS)
    type = "scale"                    # scale | single | multiple | text
    text = "Ik ken de afspraken uit het pamflet."
    labels = ["Helemaal oneens", "Oneens", "Neutraal", "Eens", "Helemaal eens"]   # scale: exactly 5
    required = true                   # optional, default true
    help = "…"                        # optional hint under the question
    # single / multiple: options = [at least 2, unique];  text: max_length = 2000 (1 to 10000)

Dates are local (Europe/Amsterdam) and become aware UTC. A TOML local date-time is taken as
it is; a date alone means the start of that day for `opens` and the *end* of that day for
`closes` (the form closes at 00:00 the next day), so `closes = 2026-12-22` keeps the form open
all of 22 December. A date-time with an offset (…T17:00:00+01:00) is accepted as written.

check_answers reads what the form posts: it never raises and returns Dutch messages for the
respondent next to the answers that are valid, so a draft keeps everything that can be kept.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from comms.dates import AMSTERDAM
from comms.domain import PROVINCES, ROLES, normalise_role, province_by_name
from comms.problems import Problem, Severity
from comms.tomlfile import Table, TomlFile

SCALE_POINTS = 5
MAX_TEXT_LENGTH = 10_000
DEFAULT_TEXT_LENGTH = 2000
MAX_REMINDERS = 10
DEFAULT_MIN_GROUP_SIZE = 5
ROUND_PATTERN = re.compile(r"^(\d{4})-H([12])$")  # the half year: 2026-H2
ID_PATTERN = re.compile(r"^[a-z0-9_-]{1,50}$")
# Names the form posts next to the answers: a question with one of these ids would be overwritten.
RESERVED_IDS = frozenset({"action", "token", "csrf", "csrf_token"})


class QuestionType(StrEnum):
    SCALE = "scale"
    SINGLE = "single"
    MULTIPLE = "multiple"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    type: QuestionType
    text: str  # the question, Dutch
    required: bool = True
    labels: tuple[str, ...] = ()  # scale: exactly 5, for 1..5
    options: tuple[str, ...] = ()  # single/multiple: at least 2, unique
    max_length: int = DEFAULT_TEXT_LENGTH  # text
    help: str | None = None  # a hint shown under the question

    @property
    def has_options(self) -> bool:
        return self.type in (QuestionType.SINGLE, QuestionType.MULTIPLE)


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    first_after_days: int
    min_days_between: int
    max_reminders: int

    def next_reminder_at(
        self, invited_at: datetime, reminders_sent: int, last_reminded_at: datetime | None
    ) -> datetime | None:
        """When the next reminder is due (not checking submission or closing); None when all are sent.

        Days are calendar days in Dutch time, due from the start of the day: invited on
        1 December at 9.00, first_after_days = 7 means the run of 8 December, whatever its hour.
        (Counting 7 × 24 hours from the invitation's moment made the 8.00 build of the 8th
        too early, so the reminder slipped to the 9th.)
        """
        if reminders_sent >= self.max_reminders:
            return None
        if reminders_sent == 0 or last_reminded_at is None:
            return _start_of_day_after(invited_at, self.first_after_days)
        return _start_of_day_after(last_reminded_at, self.min_days_between)


def _start_of_day_after(moment: datetime, days: int) -> datetime:
    """Local midnight `days` calendar days after the day of `moment`, as aware UTC."""
    day = moment.astimezone(AMSTERDAM).date() + timedelta(days=days)
    return datetime.combine(day, time(), AMSTERDAM).astimezone(UTC)


DEFAULT_REMINDERS = ReminderPolicy(first_after_days=7, min_days_between=5, max_reminders=2)


@dataclass(frozen=True, slots=True)
class SurveyDefinition:
    name: str  # the file stem
    path: Path
    title: str
    introduction: str
    round: str  # "2026-H2"
    opens_at: datetime  # aware UTC
    closes_at: datetime  # aware UTC, exclusive
    roles: frozenset[str]  # keys of comms.domain.ROLES
    provinces: frozenset[str]  # Province.name; empty = all
    reminders: ReminderPolicy
    anonymous: bool
    questions: tuple[Question, ...]
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE

    def question(self, id: str) -> Question | None:
        return next((q for q in self.questions if q.id == id), None)

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at

    def includes(self, role: str | None, province: str | None) -> bool:
        """Whether a contact with this role and province belongs to the audience."""
        in_province = not self.provinces or (province is not None and province in self.provinces)
        return role in self.roles and in_province

    def to_json(self) -> str:
        """The snapshot a round keeps (Survey.definition): later edits of the file do not change it."""
        data = {
            "version": 1,
            "name": self.name,
            "path": str(self.path),
            "title": self.title,
            "introduction": self.introduction,
            "round": self.round,
            "opens_at": self.opens_at.isoformat(),
            "closes_at": self.closes_at.isoformat(),
            "roles": sorted(self.roles),
            "provinces": sorted(self.provinces),
            "reminders": {
                "first_after_days": self.reminders.first_after_days,
                "min_days_between": self.reminders.min_days_between,
                "max_reminders": self.reminders.max_reminders,
            },
            "anonymous": self.anonymous,
            "min_group_size": self.min_group_size,
            "questions": [
                {
                    "id": q.id,
                    "type": q.type.value,
                    "text": q.text,
                    "required": q.required,
                    "labels": list(q.labels),
                    "options": list(q.options),
                    "max_length": q.max_length,
                    "help": q.help,
                }
                for q in self.questions
            ],
        }
        return json.dumps(data, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> SurveyDefinition:
        """The definition of a snapshot made by to_json; raises ValueError/KeyError on anything else."""
        data = json.loads(text)
        if data.get("version") != 1:
            raise ValueError(f"unknown survey snapshot version {data.get('version')!r}")
        return cls(
            name=data["name"],
            path=Path(data["path"]),
            title=data["title"],
            introduction=data["introduction"],
            round=data["round"],
            opens_at=datetime.fromisoformat(data["opens_at"]).astimezone(UTC),
            closes_at=datetime.fromisoformat(data["closes_at"]).astimezone(UTC),
            roles=frozenset(data["roles"]),
            provinces=frozenset(data["provinces"]),
            reminders=ReminderPolicy(**data["reminders"]),
            anonymous=data["anonymous"],
            min_group_size=data["min_group_size"],
            questions=tuple(
                Question(
                    id=q["id"],
                    type=QuestionType(q["type"]),
                    text=q["text"],
                    required=q["required"],
                    labels=tuple(q["labels"]),
                    options=tuple(q["options"]),
                    max_length=q["max_length"],
                    help=q["help"],
                )
                for q in data["questions"]
            ),
        )


# -- loading ----------------------------------------------------------------------------

_TOP_KEYS = (
    "title",
    "introduction",
    "round",
    "opens",
    "closes",
    "anonymous",
    "min_group_size",
    "audience",
    "reminders",
    "questions",
)
_AUDIENCE_KEYS = ("roles", "provinces")
_REMINDER_KEYS = ("first_after_days", "min_days_between", "max")
_QUESTION_KEYS = ("id", "type", "text", "required", "labels", "options", "max_length", "help")
_TYPE_KEYS: dict[str, tuple[QuestionType, ...]] = {
    "labels": (QuestionType.SCALE,),
    "options": (QuestionType.SINGLE, QuestionType.MULTIPLE),
    "max_length": (QuestionType.TEXT,),
}
_EXAMPLES = {
    "title": 'title = "Evaluatie van het pamflet 2026-H2"',
    "round": 'round = "2026-H2"',
    "opens": "opens = 2026-12-01T09:00:00",
    "closes": "closes = 2026-12-22T17:00:00",
    "questions": "[[questions]] tables, each with id, type and text",
    "roles": 'roles = ["gedeputeerde", "statenlid"] under [audience]',
    "id": 'id = "bekendheid"',
    "type": 'type = "scale"',
    "text": 'text = "Ik ken de afspraken uit het pamflet."',
}


def load_survey_definitions(directory: Path) -> tuple[list[SurveyDefinition], list[Problem]]:
    """The valid definitions in `directory` (templates/surveys), and every problem of every file.

    A folder that does not exist holds no surveys: no problem. A file with an error is left out;
    two files with the same round are both left out, since either could be meant.
    """
    paths = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    files = [TomlFile(path, _EXAMPLES) for path in paths]
    loaded = [(file, _load(file)) for file in files]
    by_round: dict[str, list[tuple[TomlFile, SurveyDefinition]]] = defaultdict(list)
    for file, definition in loaded:
        if definition is not None:
            by_round[definition.round].append((file, definition))
    for round_, found in by_round.items():
        if len(found) > 1:
            names = " and ".join(file.where for file, _ in found)
            for file, _ in found:
                file.add(
                    f"round {round_!r} is defined more than once, in {names}: one file per round", "", "round"
                )
    definitions = [d for file, d in loaded if d is not None and not file.has_errors]
    return definitions, [p for file in files for p in sorted(file.problems, key=_by_line)]


def _by_line(problem: Problem) -> int:
    return problem.line or 0  # a missing key has no line: first


def check_surveys(directory: Path) -> list[Problem]:
    """For `comms check`: the problems of every survey definition in `directory` (templates/surveys)."""
    return load_survey_definitions(directory)[1]


def _load(file: TomlFile) -> SurveyDefinition | None:
    data = file.root
    if data is None:
        return None
    _check_keys(data, _TOP_KEYS)
    title = _text(data, "title")
    introduction = data.get("introduction", str, "") or ""
    round_ = _round(data)
    opens_at = _moment(data, "opens", end_of_day=False)
    closes_at = _moment(data, "closes", end_of_day=True)
    if opens_at and closes_at and closes_at <= opens_at:
        data.add("closes must be after opens: the survey would never be open", "closes")
    anonymous = data.get("anonymous", bool, True)
    min_group_size = data.get("min_group_size", int, DEFAULT_MIN_GROUP_SIZE)
    if min_group_size is not None and min_group_size < 1:
        data.add(f"min_group_size must be 1 or more, not {min_group_size}", "min_group_size")
    elif min_group_size == 1 and anonymous:
        # k is also the batch in which anonymous answers are written (comms/survey/pool.py)
        data.add(
            "min_group_size must be 2 or more in an anonymous round: with 1, each answer would be "
            "written alone and could be told apart",
            "min_group_size",
        )
    roles, provinces = _audience(data.table("audience", missing=_EXAMPLES["roles"]))
    reminders = _reminders(data.table("reminders"))
    questions = _questions(file, data)
    if reminders and opens_at and closes_at:
        _check_first_reminder(file, reminders, opens_at, closes_at)
    if (
        file.has_errors
        or title is None
        or round_ is None
        or opens_at is None
        or closes_at is None
        or reminders is None
        or anonymous is None
        or min_group_size is None
    ):
        return None  # the problems say why; the values are all set when there are none
    return SurveyDefinition(
        name=file.path.stem,
        path=file.path,
        title=title,
        introduction=introduction.strip(),
        round=round_,
        opens_at=opens_at,
        closes_at=closes_at,
        roles=roles,
        provinces=provinces,
        reminders=reminders,
        anonymous=anonymous,
        min_group_size=min_group_size,
        questions=questions,
    )


def _check_first_reminder(
    file: TomlFile, policy: ReminderPolicy, opens_at: datetime, closes_at: datetime
) -> None:
    """A warning, not an error: a short round without reminders is allowed, but rarely meant."""
    if policy.max_reminders and opens_at + timedelta(days=policy.first_after_days) >= closes_at:
        file.add(
            f"[reminders] first_after_days = {policy.first_after_days} falls after closes: "
            "no reminder will be sent",
            "reminders",
            "first_after_days",
            severity=Severity.WARNING,
        )


def _check_keys(table: Table, known: tuple[str, ...]) -> None:
    def reason(key: str, guess: str | None) -> str:
        hint = f" (did you mean '{guess}'?)" if guess else f"; known: {', '.join(known)}"
        return table.label(f"unknown key '{key}'{hint}")

    table.check_keys(known, reason)


def _text(table: Table, key: str) -> str | None:
    value = table.get(key, str)
    if value is not None and not value.strip():
        table.add(f"{table.label(key)} is empty", key)
        return None
    return value.strip() if value else None


def _round(data: Table) -> str | None:
    value = data.get("round", str)
    if value is None:
        return None
    found = ROUND_PATTERN.match(value.strip())
    if found is None or not 2000 <= int(found[1]) <= 2999:
        data.add(f'round {value!r} is not valid: write the year and half year, like "2026-H2"', "round")
        return None
    return value.strip()


def _moment(data: Table, key: str, *, end_of_day: bool) -> datetime | None:
    if key not in data.data:
        data.add(f"{key} is missing: add {_EXAMPLES[key]} (local time)")
        return None
    value = data.data[key]
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=AMSTERDAM)
        return aware.astimezone(UTC)
    if isinstance(value, date):
        day = value + timedelta(days=1) if end_of_day else value
        return datetime.combine(day, time(), AMSTERDAM).astimezone(UTC)
    data.add(
        f"{key} must be a date or a date and time without quotes, like {_EXAMPLES[key]}, not {value!r}", key
    )
    return None


def _audience(table: Table | None) -> tuple[frozenset[str], frozenset[str]]:
    if table is None:
        return frozenset(), frozenset()
    _check_keys(table, _AUDIENCE_KEYS)
    roles: set[str] = set()
    for value in _strings(table, "roles", required=True):
        role = normalise_role(value)
        if role is None:
            known = ", ".join(ROLES)
            reason = f"[audience] roles: unknown role {value!r}; known: {known}"
            table.add(reason, "roles", needle=f'"{value}"')
        else:
            roles.add(role)
    provinces: set[str] = set()
    for value in _strings(table, "provinces", required=False):
        province = province_by_name(value)
        if province is None:
            known = ", ".join(p.name for p in PROVINCES)
            reason = (
                f"[audience] provinces: unknown province {value!r}; known: {known} (an empty list means all)"
            )
            table.add(reason, "provinces", needle=f'"{value}"')
        else:
            provinces.add(province.name)
    return frozenset(roles), frozenset(provinces)


def _strings(table: Table, key: str, *, required: bool) -> list[str]:
    value = table.data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        table.add(f"[audience] {key} must be a list of names in quotes, not {value!r}", key)
        return []
    if required and not value:
        table.add(f"[audience] {key} is missing or empty: add {_EXAMPLES['roles']}", key)
    return value


def _reminders(table: Table | None) -> ReminderPolicy | None:
    if table is None:
        return None
    _check_keys(table, _REMINDER_KEYS)
    defaults = (
        DEFAULT_REMINDERS.first_after_days,
        DEFAULT_REMINDERS.min_days_between,
        DEFAULT_REMINDERS.max_reminders,
    )
    values = []
    for key, default in zip(_REMINDER_KEYS, defaults, strict=True):
        value = table.get(key, int, default)
        if value is not None and value < 0:
            table.add(f"[reminders] {key} must be 0 or more, not {value}", key)
            value = None
        values.append(value)
    first, between, most = values
    if most is not None and most > MAX_REMINDERS:
        table.add(f"[reminders] max must be at most {MAX_REMINDERS}, not {most}", "max")
        return None
    if between == 0 and most is not None and most > 1:
        reason = (
            "[reminders] min_days_between must be 1 or more when max is more than 1: a reminder a day at most"
        )
        table.add(reason, "min_days_between")
        return None
    if first is None or between is None or most is None:
        return None
    return ReminderPolicy(first_after_days=first, min_days_between=between, max_reminders=most)


def _questions(file: TomlFile, data: Table) -> tuple[Question, ...]:
    tables = data.data.get("questions")
    if tables is None:
        data.add(f"questions are missing: add {_EXAMPLES['questions']}")
        return ()
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        data.add(f"questions must be {_EXAMPLES['questions']}", "questions")
        return ()
    questions = [_question_table(file, table, index) for index, table in enumerate(tables)]
    first_at: dict[str, int] = {}
    for question in questions:
        id_ = question.subject
        if id_ is None:
            continue  # _question reports it
        if id_ in first_at:
            question.add(
                f"question {question.index + 1}: id {id_!r} is used before, by question {first_at[id_] + 1}: "
                "every question needs its own id",
                "id",
            )
        first_at.setdefault(id_, question.index)
    found = [_question(question) for question in questions]
    return tuple(q for q in found if q is not None)


def _question_table(file: TomlFile, data: dict[str, Any], index: int) -> Table:
    """The index-th [[questions]]; its problems start with 'question N: ' and name its id."""
    raw_id = data.get("id")
    subject = raw_id if isinstance(raw_id, str) else None
    return Table(file, data, "questions", index=index, subject=subject, prefix=f"question {index + 1}: ")


def _question(table: Table) -> Question | None:
    number = table.index + 1
    before = len(table.file.problems)
    _check_keys(table, _QUESTION_KEYS)
    id_ = table.get("id", str)
    if id_ is not None and not ID_PATTERN.match(id_):
        reason = (
            f"question {number}: id {id_!r} is not valid: use 1 to 50 of a-z, 0-9, - and _ "
            '(no capitals or spaces), like "bekendheid"'
        )
        table.add(reason, "id")
    elif id_ in RESERVED_IDS:
        table.add(f"question {number}: id {id_!r} is a name the form uses itself; choose another id", "id")
    kind = _type(table)
    text = _text(table, "text")
    required = table.get("required", bool, True)
    help_ = table.get("help", str, None)
    for key, types in _TYPE_KEYS.items():
        if kind is not None and key in table.data and kind not in types:
            allowed = " and ".join(t.value for t in types)
            table.add(f"question {number}: {key} belongs to {allowed} questions, not to {kind.value}", key)
    labels = _labels(table) if kind is QuestionType.SCALE else ()
    options = _options(table) if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE) else ()
    max_length = _max_length(table) if kind is QuestionType.TEXT else DEFAULT_TEXT_LENGTH
    if len(table.file.problems) > before or id_ is None or kind is None or text is None or required is None:
        return None  # the problems say why; the values are all set when there are none
    return Question(
        id=id_,
        type=kind,
        text=text,
        required=required,
        labels=labels,
        options=options,
        max_length=max_length,
        help=(help_ or "").strip() or None,
    )


def _type(table: Table) -> QuestionType | None:
    value = table.get("type", str)
    if value is None:
        return None
    try:
        return QuestionType(value.strip().lower())
    except ValueError:
        known = ", ".join(t.value for t in QuestionType)
        table.add(f"question {table.index + 1}: unknown type {value!r}; use one of {known}", "type")
        return None


def _string_list(table: dict[str, Any], key: str) -> list[str] | None:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return None
    return [v.strip() for v in value]


def _labels(table: Table) -> tuple[str, ...]:
    labels = _string_list(table.data, "labels")
    if labels is None or len(labels) != SCALE_POINTS:
        if labels is not None:
            count = f"has {len(labels)}"
        else:
            count = "has none" if "labels" not in table.data else "has something else than texts"
        reason = (
            f"question {table.index + 1}: a scale needs exactly {SCALE_POINTS} labels in quotes, "
            f'for 1 to {SCALE_POINTS}, like ["Helemaal oneens", "Oneens", "Neutraal", "Eens", '
            f'"Helemaal eens"]; it {count}'
        )
        table.add(reason, "labels" if "labels" in table.data else "type")
        return ()
    return tuple(labels)


def _options(table: Table) -> tuple[str, ...]:
    options = _string_list(table.data, "options")
    number = table.index + 1
    if options is None or len(options) < 2:
        reason = f"question {number}: needs options, a list of at least 2 answers in quotes"
        if options is not None:
            reason += f"; it has {len(options)}"
        table.add(reason, "options" if "options" in table.data else "type")
        return ()
    seen: dict[str, int] = defaultdict(int)
    for option in options:
        seen[option] += 1
        if seen[option] == 2:  # the line of the second one; once per option
            reason = f"question {number}: option {option!r} is listed more than once"
            table.add(reason, "options", needle=f'"{option}"', nth=2)
    return tuple(options)


def _max_length(table: Table) -> int:
    value = table.get("max_length", int, DEFAULT_TEXT_LENGTH)
    if value is not None and not 1 <= value <= MAX_TEXT_LENGTH:
        table.add(
            f"question {table.index + 1}: max_length must be from 1 to {MAX_TEXT_LENGTH}, not {value}",
            "max_length",
        )
    return value or DEFAULT_TEXT_LENGTH


# -- answers ----------------------------------------------------------------------------

Answer = int | str | list[str]  # scale 1..5 | single option / open text | multiple options

_SCALE_VALUE = re.compile(rf"^[1-{SCALE_POINTS}]$")
# Bidirectional overrides can make an answer read differently in the results than it was typed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REQUIRED_MESSAGES = {
    QuestionType.SCALE: f"Deze vraag is verplicht: kies een waarde van 1 tot en met {SCALE_POINTS}.",
    QuestionType.SINGLE: "Deze vraag is verplicht: kies één van de antwoorden.",
    QuestionType.MULTIPLE: "Deze vraag is verplicht: kies ten minste één antwoord.",
    QuestionType.TEXT: "Deze vraag is verplicht: vul een antwoord in.",
}


@dataclass
class AnswerCheck:
    answers: dict[str, Answer]  # the valid answers, in question order (kept, also for a draft)
    errors: dict[str, str]  # question id -> Dutch message for the respondent

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)


def check_answers(definition: SurveyDefinition, form: Mapping[str, list[str]], *, final: bool) -> AnswerCheck:
    """The posted answers, checked against the questions; field names that are no question are ignored.

    final=False (a draft): an empty answer is fine, a given one must be valid. final=True: every
    required question must be answered as well.
    """
    check = AnswerCheck({}, {})
    for question in definition.questions:
        values = [v for v in form.get(question.id, []) if v.strip()]
        if not values:
            if final and question.required:
                check.errors[question.id] = _REQUIRED_MESSAGES[question.type]
            continue
        answer, error = _answer(question, values)
        if error is not None:
            check.errors[question.id] = error
        elif answer is not None:
            check.answers[question.id] = answer
        elif final and question.required:  # a text of only control characters
            check.errors[question.id] = _REQUIRED_MESSAGES[question.type]
    return check


def _answer(question: Question, values: list[str]) -> tuple[Answer | None, str | None]:
    match question.type:
        case QuestionType.SCALE:
            value = values[0].strip()
            if len(values) > 1 or not _SCALE_VALUE.match(value):
                return None, f"Kies een waarde van 1 tot en met {SCALE_POINTS}."
            return int(value), None
        case QuestionType.SINGLE:
            if len(values) > 1 or values[0] not in question.options:
                return None, "Kies één van de antwoorden."
            return values[0], None
        case QuestionType.MULTIPLE:
            if any(v not in question.options for v in values):
                return None, "Kies alleen uit de genoemde antwoorden."
            if len(set(values)) < len(values):
                return None, "Kies elk antwoord hoogstens één keer."
            return [o for o in question.options if o in values], None
        case QuestionType.TEXT:
            if len(values) > 1:
                return None, "Vul één antwoord in."
            text = clean_text(values[0])
            if len(text) > question.max_length:
                return (
                    None,
                    f"Uw antwoord is te lang: maximaal {question.max_length} tekens (nu {len(text)}).",
                )
            return text or None, None


def clean_text(value: str) -> str:
    """Open text as stored: one kind of line break, a tab as a space, no other control characters
    (nor bidirectional overrides), no spaces around it."""
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    kept = (c for c in value if c == "\n" or (unicodedata.category(c) != "Cc" and c not in _BIDI_CONTROLS))
    return "".join(kept).strip()
