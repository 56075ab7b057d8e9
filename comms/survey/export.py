"""Survey results as CSV for Dutch Excel: `;` between cells, UTF-8 with a BOM, decimal commas.

Two files: `export_csv` has one row per response (columns: role, province, then the question
ids); `export_summary_csv` the aggregated table (response rates and every question's numbers).
A cell that starts with = + - @ (or a tab or carriage return) gets a leading apostrophe: a
spreadsheet would otherwise run it as a formula (CSV injection), and open answers are typed by
anyone with a link. Plain numbers ("-7,1", a difference) are left as they are: no formula.

Rows come in the order of the responses' random ids, never the order of submission; role and
province are blank unless at least the minimum number of respondents share both (results.py).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from comms.survey.definitions import QuestionType
from comms.survey.results import OptionCount, QuestionResult, SurveyResults

BOM = "\ufeff"
DELIMITER = ";"
MULTIPLE_SEPARATOR = "; "
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(,\d+)?")
RESPONSE_COLUMNS = ("rol", "provincie")
SUMMARY_COLUMNS = (
    "onderdeel",
    "vraag of groep",
    "antwoord",
    "aantal",
    "van",
    "percentage",
    "gemiddelde",
    "standaardafwijking",
    "vorige ronde",
    "vorige ronde: aantal",
    "vorige ronde: van",
    "vorige ronde: percentage",
    "vorige ronde: gemiddelde",
    "verschil",
)


def safe_cell(value: object) -> str:
    """The cell's text, made inert for spreadsheets; a plain number ("-7,1") stays a number."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return f"'{text}"
    return text


def decimal(value: float | None, places: int = 1) -> str:
    """'3,6': Dutch Excel reads a decimal comma as a number."""
    return "" if value is None else f"{value:.{places}f}".replace(".", ",")


def percent(share: float | None) -> str:
    return "" if share is None else decimal(share * 100)


def _write(rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITER, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return BOM + buffer.getvalue()


def answer_cell(question_type: QuestionType, value: object) -> str:
    if value is None:
        return ""
    if question_type is QuestionType.MULTIPLE and isinstance(value, list):
        return MULTIPLE_SEPARATOR.join(str(v) for v in value)
    return str(value)


def export_csv(results: SurveyResults) -> str:
    """One row per response; only the header when the answers are withheld (too few responses)."""
    questions = results.definition.questions
    header = [*RESPONSE_COLUMNS, *(q.id for q in questions)]
    rows = [
        [row.role or "", row.province or "", *(answer_cell(q.type, row.answers.get(q.id)) for q in questions)]
        for row in results.responses
    ]
    return _write([header, *rows])


def export_summary_csv(results: SurveyResults) -> str:
    """The aggregated table: response rates (total, per role, per province), then per question."""
    rows: list[list[object]] = [list(SUMMARY_COLUMNS)]
    rows.append(_rate_row("respons", "totaal", results.responded, results.invited, results.rate))
    for section, groups in (
        ("respons per rol", results.by_role),
        ("respons per provincie", results.by_province),
    ):
        rows.extend(_rate_row(section, g.group, g.responded, g.invited, g.rate) for g in groups)
    for question in results.questions:
        rows.extend(_question_rows(question))
    width = len(SUMMARY_COLUMNS)  # every row as wide as the header, for tools that expect that
    return _write([[*row, *[""] * (width - len(row))] for row in rows])


def _rate_row(
    section: str, group: str, responded: int | None, invited: int | None, rate: float | None
) -> list[object]:
    return [section, group, "", _count(responded), _count(invited), percent(rate)]


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _question_rows(result: QuestionResult) -> list[list[object]]:
    section, text = f"vraag {result.id}", result.question.text
    if result.is_text:
        return [[section, text, answer] for answer in result.texts]
    rows = [
        [section, text, *_option_cells(o, result.n), "", "", *_previous_cells(result, o)]
        for o in result.options
    ]
    if result.is_scale:
        rows.append([section, text, *_mean_cells(result)])
    return rows


def _mean_cells(result: QuestionResult) -> list[object]:
    cells: list[object] = ["gemiddelde", "", str(result.n), "", decimal(result.mean), decimal(result.sd)]
    before = result.previous
    if before is not None:
        difference = before.mean_difference(result.mean)
        cells += [before.round, "", str(before.n), "", decimal(before.mean), decimal(difference)]
    return cells


def _option_cells(option: OptionCount, n: int) -> list[object]:
    return [option.label, str(option.count), str(n), percent(option.share)]


def _previous_cells(result: QuestionResult, option: OptionCount) -> list[object]:
    before = result.previous
    if before is None:
        return []
    then = before.option(option.value)
    if then is None:
        return [before.round]
    difference = (option.share - then.share) * 100  # percentage points
    return [before.round, str(then.count), str(before.n), percent(then.share), "", decimal(difference)]
