"""The results of a survey round: response rates, answer distributions, the previous round.

Nobody may be identifiable from what is shown (the round's `min_group_size`, default 5):

- Response rates per role and per province: a group with fewer invitees or fewer respondents
  than the minimum is not shown on its own but counted in one row "overig (kleine groepen)".
  If that row is itself below the minimum, the smallest group that was shown is folded into
  it as well, because otherwise the total minus the shown groups would give its numbers
  (secondary suppression). One group is always enough: a shown group meets the minimum.
  Only when every group is small does the row stay below the minimum; it is then suppressed
  (no numbers), and only the round's total is shown.
- Answers are shown only for the round as a whole, never per role or province, and only
  when at least the minimum number responded; below that nothing of the answers is shown.
- The per-response export (comms/survey/export.py) names a respondent's role and province only when
  at least the minimum number of respondents share both (see `disclosed_groups`).
- Open answers are sorted alphabetically, never listed in the order they came in, so the
  list does not follow submission times (or invitation order, in a round that is not
  anonymous). Sorting rather than shuffling: the same list every time, in every output.

Spread is the sample standard deviation (n - 1): the respondents are a sample of the people
invited, and the sample estimate is what spreadsheets (STDEV.S, STDEV in Dutch Excel)
show, so the team's own checks agree. With fewer than two answers it is not defined.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from comms.domain import ROLES
from comms.dutch import HAS, Noun, part_of
from comms.errors import NotFound
from comms.problems import Problem
from comms.store.models import Survey, SurveyInvitation, SurveyResponse
from comms.survey.definitions import Question, QuestionType, SurveyDefinition

SMALL_GROUPS = "overig (kleine groepen)"
NO_ROLE = "rol onbekend"
NO_PROVINCE = "geen provincie"
SCALE_VALUES = (1, 2, 3, 4, 5)

INVITEE = Noun("genodigde", "genodigden")
ANSWER = Noun("antwoord", "antwoorden")


class UnknownRound(NotFound):
    def __init__(self, round: str, known: Sequence[str]):
        listed = ", ".join(known) or "none"
        super().__init__(f"no survey round {round!r} was started (rounds: {listed})")
        self.round = round


# -- what the results hold ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupRate:
    """A row of the response table; numbers are None when the row is suppressed."""

    group: str
    invited: int | None
    responded: int | None

    @property
    def is_suppressed(self) -> bool:
        return self.invited is None

    @property
    def rate(self) -> float | None:
        if self.invited is None or self.responded is None or self.invited == 0:
            return None
        return self.responded / self.invited


@dataclass(frozen=True, slots=True)
class OptionCount:
    """One bar: a scale value or an option, how many chose it, as a share of those who answered."""

    value: str  # "1".."5" for a scale, the option text otherwise
    label: str  # what readers see: "1 – Helemaal oneens", or the option
    count: int
    share: float  # count / n; for a multiple-choice question the shares add up to more than 1


@dataclass(frozen=True, slots=True)
class Comparison:
    """The same question in the previous round: its numbers, and now minus then."""

    round: str
    n: int
    options: tuple[OptionCount, ...]
    mean: float | None
    wording_changed: bool  # same id, type and labels/options, but the question text was edited

    @property
    def answer_count(self) -> str:
        """'1 antwoord', '12 antwoorden'."""
        return ANSWER.count(self.n)

    def mean_difference(self, mean: float | None) -> float | None:
        return None if mean is None or self.mean is None else mean - self.mean

    def option(self, value: str) -> OptionCount | None:
        """The same answer then (the options match, so it is there)."""
        return next((o for o in self.options if o.value == value), None)


@dataclass(frozen=True, slots=True)
class QuestionResult:
    question: Question
    n: int  # respondents who answered this question
    options: tuple[OptionCount, ...] = ()  # scale, single, multiple
    mean: float | None = None  # scale
    sd: float | None = None  # scale: sample standard deviation
    texts: tuple[str, ...] = ()  # open question: the non-empty answers, sorted
    previous: Comparison | None = None

    @property
    def id(self) -> str:
        return self.question.id

    @property
    def answer_count(self) -> str:
        """'1 antwoord', '12 antwoorden'."""
        return ANSWER.count(self.n)

    @property
    def is_scale(self) -> bool:
        return self.question.type is QuestionType.SCALE

    @property
    def is_text(self) -> bool:
        return self.question.type is QuestionType.TEXT

    @property
    def is_multiple(self) -> bool:
        return self.question.type is QuestionType.MULTIPLE


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One response for the export: role and province only where the minimum allows."""

    role: str | None
    province: str | None
    answers: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class SurveyResults:
    round: str
    name: str
    title: str
    anonymous: bool
    opens_at: datetime
    closes_at: datetime
    min_group_size: int
    invited: int
    responded: int  # invitees counted as having answered (in an anonymous round: per batch)
    by_role: tuple[GroupRate, ...]
    by_province: tuple[GroupRate, ...]
    definition: SurveyDefinition
    questions: tuple[QuestionResult, ...] = ()  # empty when the answers are withheld
    responses: tuple[ResponseRow, ...] = ()  # for the export, in random order (by random id)
    previous_round: str | None = None
    problems: tuple[Problem, ...] = field(default=())
    answered: int = 0  # responses written (an anonymous round's pool not yet among them)

    @property
    def rate(self) -> float | None:
        return self.responded / self.invited if self.invited else None

    @property
    def response_text(self) -> str:
        """'1 van de 681 genodigden heeft de vragenlijst ingevuld' (the verb agrees with the part)."""
        return f"{part_of(self.responded, self.invited, INVITEE, HAS)} de vragenlijst ingevuld"

    @property
    def answers_withheld(self) -> bool:
        """Too few responses to show any answer without pointing at the people who gave them."""
        return self.answered < self.min_group_size

    def question(self, id: str) -> QuestionResult | None:
        return next((q for q in self.questions if q.id == id), None)


# -- computing them ------------------------------------------------------------------------------


def compute_results(
    session: Session, round: str, min_group_size: int | None = None, *, compare: bool = True
) -> SurveyResults:
    """The results of `round`; `min_group_size` overrides the round's own minimum.

    Raises UnknownRound (a LookupError) when no such round was started."""
    survey = find_survey(session, round)
    definition = SurveyDefinition.from_json(survey.definition)
    minimum = min_group_size if min_group_size is not None else definition.min_group_size
    minimum = max(minimum, 1)
    # `counted`, not `submitted`: in an anonymous round an answer is counted when its batch is
    # written (comms/survey/pool.py), so the rates do not show each completion as it happens.
    invitations = session.execute(
        select(
            SurveyInvitation.role, SurveyInvitation.province, SurveyInvitation.counted.label("submitted")
        ).where(SurveyInvitation.survey_id == survey.id)
    ).all()
    invited = len(invitations)
    responded = sum(1 for row in invitations if row.submitted)
    answered = session.scalar(
        select(func.count()).select_from(SurveyResponse).where(SurveyResponse.survey_id == survey.id)
    )
    results = SurveyResults(
        round=survey.round,
        name=survey.name,
        title=survey.title,
        anonymous=survey.anonymous,
        opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        min_group_size=minimum,
        invited=invited,
        responded=responded,
        by_role=group_rates(((_role_label(r.role), r.submitted) for r in invitations), minimum),
        by_province=group_rates(((r.province or NO_PROVINCE, r.submitted) for r in invitations), minimum),
        definition=definition,
        answered=answered or 0,
    )
    if results.answers_withheld:
        return results
    responses = session.execute(
        select(SurveyResponse.role, SurveyResponse.province, SurveyResponse.answers)
        .where(SurveyResponse.survey_id == survey.id)
        .order_by(SurveyResponse.id)  # random ids: a random, repeatable order
    ).all()
    answers, problems = _read_answers(survey.round, [r.answers for r in responses])
    disclosed = disclosed_groups([(r.role, r.province) for r in responses], minimum)
    rows = tuple(
        ResponseRow(
            _role_label(r.role) if (r.role, r.province) in disclosed else None,
            (r.province or NO_PROVINCE) if (r.role, r.province) in disclosed else None,
            answer,
        )
        for r, answer in zip(responses, answers, strict=True)
    )
    questions = tuple(question_result(q, answers) for q in definition.questions)
    results = replace(results, questions=questions, responses=rows, problems=tuple(problems))
    return compare_with_previous(session, results) if compare else results


def find_survey(session: Session, round: str) -> Survey:
    """The round's Survey row; UnknownRound (a LookupError) when it was never started."""
    survey = session.scalars(select(Survey).where(Survey.round == round)).first()
    if survey is None:
        known = session.scalars(select(Survey.round).order_by(Survey.opens_at)).all()
        raise UnknownRound(round, known)
    return survey


def _role_label(role: str | None) -> str:
    return ROLES.get(role, role) if role else NO_ROLE


def group_rates(members: Iterable[tuple[str, bool]], minimum: int) -> tuple[GroupRate, ...]:
    """Response per group (group, submitted) with the small groups merged; see the module doc."""
    invited: Counter[str] = Counter()
    responded: Counter[str] = Counter()
    for group, submitted in members:
        invited[group] += 1
        responded[group] += int(submitted)

    def is_small(invitees: int, respondents: int) -> bool:
        return invitees < minimum or respondents < minimum

    shown = sorted(g for g in invited if not is_small(invited[g], responded[g]))
    small = [g for g in invited if g not in shown]
    if small and is_small(sum(invited[g] for g in small), sum(responded[g] for g in small)) and shown:
        smallest = min(shown, key=lambda g: (responded[g], invited[g], g))
        shown.remove(smallest)
        small.append(smallest)
    rows = [GroupRate(g, invited[g], responded[g]) for g in shown]
    if small:
        merged_invited = sum(invited[g] for g in small)
        merged_responded = sum(responded[g] for g in small)
        if is_small(merged_invited, merged_responded):
            rows.append(GroupRate(SMALL_GROUPS, None, None))
        else:
            rows.append(GroupRate(SMALL_GROUPS, merged_invited, merged_responded))
    return tuple(rows)


def disclosed_groups(
    groups: Sequence[tuple[str | None, str | None]], minimum: int
) -> set[tuple[str | None, str | None]]:
    """The (role, province) pairs a response row may show: pairs with at least `minimum`
    respondents. The rows left blank must be at least `minimum` too (or none), otherwise the
    totals per role and province would tell whose the blank rows are; so the smallest shown
    pairs are blanked as well until they are."""
    sizes = Counter(groups)
    shown = sorted((pair for pair in sizes if sizes[pair] >= minimum), key=lambda p: (sizes[p], str(p)))
    hidden = sum(sizes[p] for p in sizes if sizes[p] < minimum)
    while 0 < hidden < minimum and shown:
        hidden += sizes[shown.pop(0)]
    return set(shown)


def _read_answers(round: str, stored: Sequence[str]) -> tuple[list[dict[str, object]], list[Problem]]:
    answers, problems = [], []
    for text in stored:
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            problems.append(Problem(f"survey {round}", "a stored response is not readable; it is left out"))
            value = {}
        answers.append(value)
    return answers, problems


def question_result(question: Question, answers: Sequence[Mapping[str, object]]) -> QuestionResult:
    """One question's numbers over all responses; values that do not fit it are left out."""
    given = [a[question.id] for a in answers if question.id in a]
    if question.type is QuestionType.SCALE:
        return _scale_result(question, given)
    if question.type is QuestionType.TEXT:
        texts = sorted(
            (t.strip() for t in given if isinstance(t, str) and t.strip()), key=lambda t: (t.casefold(), t)
        )
        return QuestionResult(question, len(texts), texts=tuple(texts))
    return _choice_result(question, given)


def _scale_result(question: Question, given: Sequence[object]) -> QuestionResult:
    values = [v for v in given if isinstance(v, int) and not isinstance(v, bool) and v in SCALE_VALUES]
    counts = Counter(values)
    n = len(values)
    options = tuple(
        OptionCount(str(v), f"{v} – {label}", counts[v], counts[v] / n if n else 0.0)
        for v, label in zip(SCALE_VALUES, question.labels, strict=False)
    )
    mean = statistics.fmean(values) if values else None
    sd = statistics.stdev(values) if n >= 2 else None
    return QuestionResult(question, n, options=options, mean=mean, sd=sd)


def _choice_result(question: Question, given: Sequence[object]) -> QuestionResult:
    chosen: list[set[str]] = []
    for value in given:
        if question.type is QuestionType.MULTIPLE:
            picked = {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()
        else:
            picked = {value} if isinstance(value, str) else set()
        picked &= set(question.options)
        if picked:
            chosen.append(picked)
    n = len(chosen)  # respondents who chose at least one option
    options = tuple(
        OptionCount(o, o, count, count / n if n else 0.0)
        for o in question.options
        for count in [sum(1 for c in chosen if o in c)]
    )
    return QuestionResult(question, n, options=options)


# -- the previous round ------------------------------------------------------------------------------


def previous_round(session: Session, results: SurveyResults) -> str | None:
    """The latest round of the same survey (definition name) that opened before this one.

    By opening date (the round string breaks ties): that is when a round ran, whereas
    `started_at` is only when someone typed the command."""
    return session.scalars(
        select(Survey.round)
        .where(Survey.name == results.name, Survey.round != results.round)
        .where(
            (Survey.opens_at < results.opens_at)
            | ((Survey.opens_at == results.opens_at) & (Survey.round < results.round))
        )
        .order_by(Survey.opens_at.desc(), Survey.round.desc())
        .limit(1)
    ).first()


def compare_with_previous(session: Session, results: SurveyResults) -> SurveyResults:
    """`results` with each question's counterpart in the previous round, where one matches:
    the same id, the same type and the same labels or options (open questions: no comparison).
    A previous round with fewer respondents than either round's minimum is not compared."""
    before_round = previous_round(session, results)
    if before_round is None:
        return results
    before = compute_results(session, before_round, compare=False)  # under that round's own minimum
    if before.answers_withheld or before.answered < results.min_group_size:
        return replace(results, previous_round=before_round)
    questions = tuple(replace(q, previous=_comparison(q, before)) for q in results.questions)
    return replace(results, questions=questions, previous_round=before_round)


def _comparison(current: QuestionResult, before: SurveyResults) -> Comparison | None:
    then = before.question(current.id)
    if then is None or current.is_text or not _same_question(current.question, then.question):
        return None
    wording_changed = then.question.text != current.question.text
    return Comparison(before.round, then.n, then.options, then.mean, wording_changed)


def _same_question(now: Question, then: Question) -> bool:
    return now.type is then.type and now.labels == then.labels and now.options == then.options
