"""A round's results for the team: tables for the terminal, CSV files and SVG charts.

`--csv PATH` writes the responses (one row each) to PATH and the aggregated table next to it,
as PATH's name with "-totalen" (antwoorden.csv → antwoorden-totalen.csv). `--charts DIR`
writes one SVG per closed question, named ROUND-QUESTION.svg. What is shown follows the
anonymity rules of comms/survey/results.py.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text

from comms.dates import long_date, time_of_day
from comms.survey.charts import number, percent, round_charts, signed
from comms.survey.export import export_csv, export_summary_csv
from comms.survey.results import GroupRate, QuestionResult, SurveyResults


def write_files(results: SurveyResults, csv_path: Path | None, charts_dir: Path | None) -> list[Path]:
    written = []
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path = summary_path_for(csv_path)
        # newline="": the CSV carries its own CRLF line ends
        csv_path.write_text(export_csv(results), encoding="utf-8", newline="")
        summary_path.write_text(export_summary_csv(results), encoding="utf-8", newline="")
        written += [csv_path, summary_path]
    if charts_dir is not None:
        charts_dir.mkdir(parents=True, exist_ok=True)
        for question_id, svg in round_charts(results).items():
            path = charts_dir / f"{results.round}-{question_id}.svg"
            path.write_text(svg, encoding="utf-8")
            written.append(path)
    return written


def summary_path_for(csv_path: Path) -> Path:
    return csv_path.with_name(f"{csv_path.stem}-totalen{csv_path.suffix or '.csv'}")


def results_renderables(results: SurveyResults) -> list[Text | Table]:
    items: list[Text | Table] = [Text(f"{results.title} — round {results.round}", style="bold")]
    period = (
        f"open {long_date(results.opens_at)} {time_of_day(results.opens_at)} until "
        f"{long_date(results.closes_at)} {time_of_day(results.closes_at)}; "
        f"{'anonymous' if results.anonymous else 'not anonymous'}; groups under "
        f"{results.min_group_size} are not shown apart"
    )
    items += [Text(period), _rates_table(results)]
    if results.answers_withheld:
        items.append(
            Text(
                f"Answers withheld: {results.answered} response(s), fewer than the minimum of "
                f"{results.min_group_size}; showing them could identify who gave them."
            )
        )
        return items
    items.append(Text(_answered(results)))
    if results.previous_round:
        items.append(
            Text(f"Compared with the previous round, {results.previous_round}, where questions match.")
        )
    for question in results.questions:
        items.append(_open_answers(question) if question.is_text else _question_table(question))
    items.extend(Text(f"warning: {problem}", style="yellow") for problem in results.problems)
    return items


def _answered(results: SurveyResults) -> str:
    line = f"Answers of {results.answered} respondent(s)"
    if results.anonymous:
        line += f"; new answers are added {results.min_group_size} or more at a time, never one by one"
    return line + "."


def _rates_table(results: SurveyResults) -> Table:
    table = Table("group", "invited", "responded", "rate", title=Text("Response"), title_justify="left")
    table.add_row("totaal", str(results.invited), str(results.responded), _rate(results.rate))
    for heading, groups in (("per rol", results.by_role), ("per provincie", results.by_province)):
        table.add_section()
        table.add_row(Text(heading, style="italic"), "", "", "")
        for group in groups:
            table.add_row(*_rate_cells(group))
    return table


def _rate_cells(group: GroupRate) -> tuple[Text, str, str, str]:
    if group.is_suppressed:
        return (Text(group.group), "–", "–", "not shown (too few)")
    return (Text(group.group), str(group.invited), str(group.responded), _rate(group.rate))


def _rate(rate: float | None) -> str:
    return "–" if rate is None else percent(rate)


def _question_table(result: QuestionResult) -> Table:
    before = result.previous
    columns = ["answer", "count", "share"]
    if before is not None:
        columns += [f"{before.round} count", f"{before.round} share", "difference (points)"]
    table = Table(*columns, title=Text(f"{result.id}: {result.question.text}"), title_justify="left")
    for option in result.options:
        row = [option.label, str(option.count), percent(option.share)]
        then = before.option(option.value) if before else None
        if then is not None:
            row += [str(then.count), percent(then.share), signed((option.share - then.share) * 100)]
        table.add_row(*(Text(cell) for cell in row))
    table.caption = Text(_caption(result))
    table.caption_justify = "left"
    return table


def _caption(result: QuestionResult) -> str:
    parts = [f"n = {result.n}"]
    if result.is_multiple:
        parts.append("several answers allowed: shares of those who answered")
    if result.is_scale:
        parts.append(f"mean {_maybe(result.mean)}")
        parts.append(f"sd {_maybe(result.sd)}")
    before = result.previous
    if before is not None:
        parts.append(f"{before.round}: n = {before.n}")
        if result.is_scale:
            parts.append(f"mean then {_maybe(before.mean)}")
            difference = before.mean_difference(result.mean)
            parts.append(f"difference {signed(difference) if difference is not None else '–'}")
        if before.wording_changed:
            parts.append("the question's wording changed since")
    return "; ".join(parts)


def _maybe(value: float | None) -> str:
    return "–" if value is None else number(value)


def _open_answers(result: QuestionResult) -> Text:
    text = Text(
        f"{result.id}: {result.question.text} (n = {result.n}, sorted alphabetically)\n", style="bold"
    )
    for answer in result.texts:
        text.append(f"  – {answer}\n", style="")
    if not result.texts:
        text.append("  (no answers)\n", style="")
    return text
