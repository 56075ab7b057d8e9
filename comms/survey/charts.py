"""One SVG bar chart per closed question: horizontal bars, built as text (no plotting library).

Made to be read by everyone and everywhere: `role="img"` named by its `<title>` and `<desc>`,
and the desc says every number in words, so a screen reader gets what the bars show. Fixed
width and height in pixels with a white background, presentation attributes instead of CSS
(a page's Content-Security-Policy forbids inline styles; mail programs drop style sheets),
14–16 px text, colours with enough contrast on white (bars 7.9:1 and 5.3:1, text 16.8:1).
Every text from a definition or answer is XML-escaped; characters XML cannot hold are dropped.

Shares are of the respondents who answered the question; a bar of 100% fills the track, so
the bars of a multiple-choice question (shares add up to more than 100%) stay comparable.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from xml.sax.saxutils import escape

from comms.survey.results import Comparison, OptionCount, QuestionResult, SurveyResults

WIDTH = 640
MARGIN = 16
VALUE_SPACE = 128  # right of the track: "120 (100,0%)"
TRACK = WIDTH - 2 * MARGIN - VALUE_SPACE
FONT = "Arial, Helvetica, sans-serif"
TEXT = "#1b1b1b"  # 16.8:1 on white
MUTED = "#4a4a4a"  # 8.9:1
BAR = "#00557f"  # 7.9:1
PREVIOUS_BAR = "#6b6b6b"  # 5.3:1
HEADING_SIZE, HEADING_LINE, HEADING_CHARS = 16, 22, 62
LABEL_SIZE, LABEL_LINE, LABEL_CHARS, LABEL_LINES = 14, 18, 80, 2
BAR_HEIGHT, PREVIOUS_HEIGHT, GAP = 18, 12, 14
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def xml_attribute(value: str) -> str:
    return escape(_NOT_XML.sub("", value), {'"': "&quot;", "\n": "&#10;", "\t": "&#9;", "\r": "&#13;"})


def number(value: float, places: int = 1) -> str:
    return f"{value:.{places}f}".replace(".", ",")


def signed(value: float) -> str:
    """'+2,5' or '−2,5' (a real minus sign)."""
    return f"{'+' if value >= 0 else '−'}{number(abs(value))}"


def percent(share: float) -> str:
    return f"{number(share * 100)}%"


def count_text(option: OptionCount) -> str:
    return f"{option.count} ({percent(option.share)})"


def chart_id(result: QuestionResult) -> str:
    return f"grafiek-{result.id}"


@dataclass
class _Canvas:
    parts: list[str]
    y: int = MARGIN

    def text(
        self, x: int, content: str, size: int, colour: str = TEXT, bold: bool = False, y: int | None = None
    ) -> None:
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(
            f'<text x="{x}" y="{self.y if y is None else y}" font-size="{size}" fill="{colour}"{weight}>'
            f"{xml_text(content)}</text>"
        )

    def rect(self, x: int, y: int, width: float, height: int, colour: str) -> None:
        self.parts.append(f'<rect x="{x}" y="{y}" width="{width:.1f}" height="{height}" fill="{colour}"/>')


def question_chart(result: QuestionResult, round_: str) -> str | None:
    """The chart of a scale, single or multiple question (None for an open question)."""
    if result.is_text or not result.options:
        return None
    before = result.previous
    canvas = _Canvas([])
    for line in textwrap.wrap(result.question.text, HEADING_CHARS) or [""]:
        canvas.y += HEADING_LINE - 4
        canvas.text(MARGIN, line, HEADING_SIZE, bold=True)
        canvas.y += 4
    canvas.y += LABEL_LINE
    canvas.text(MARGIN, _summary(result), LABEL_SIZE, MUTED)
    if before is not None:
        canvas.y += LABEL_LINE + 4
        _legend(canvas, round_, before.round)
    canvas.y += GAP
    for option in result.options:
        _bar(canvas, option, before)
    height = canvas.y + MARGIN
    title_id = xml_attribute(f"{chart_id(result)}-titel")
    desc_id = xml_attribute(f"{chart_id(result)}-beschrijving")
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{title_id} {desc_id}" '
        f'font-family="{FONT}">'
    )
    return "".join(
        [
            head,
            f'<title id="{title_id}">{xml_text(chart_title(result, round_))}</title>',
            f'<desc id="{desc_id}">{xml_text(describe(result, round_))}</desc>',
            f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            *canvas.parts,
            "</svg>",
        ]
    )


def _summary(result: QuestionResult) -> str:
    parts = [result.answer_count]
    if result.is_multiple:
        parts.append("meer antwoorden mogelijk")
    if result.mean is not None:
        parts.append(f"gemiddelde {number(result.mean)}")
    if result.sd is not None:
        parts.append(f"standaardafwijking {number(result.sd)}")
    return " · ".join(parts)


def _legend(canvas: _Canvas, round_: str, previous: str) -> None:
    canvas.rect(MARGIN, canvas.y - 11, 12, 12, BAR)
    canvas.text(MARGIN + 18, f"ronde {round_}", LABEL_SIZE)
    canvas.rect(MARGIN + 160, canvas.y - 11, 12, 12, PREVIOUS_BAR)
    canvas.text(MARGIN + 178, f"vorige ronde {previous}", LABEL_SIZE)


def _bar(canvas: _Canvas, option: OptionCount, before: Comparison | None) -> None:
    lines = textwrap.wrap(option.label, LABEL_CHARS) or [""]
    if len(lines) > LABEL_LINES:  # the whole label is in the desc and the table
        lines = [
            *lines[: LABEL_LINES - 1],
            textwrap.shorten(" ".join(lines[LABEL_LINES - 1 :]), LABEL_CHARS - 1, placeholder=" …"),
        ]
    for line in lines:
        canvas.y += LABEL_LINE
        canvas.text(MARGIN, line, LABEL_SIZE)
    canvas.y += 6
    _one_bar(canvas, option, BAR_HEIGHT, BAR, TEXT)
    then = before.option(option.value) if before else None
    if then is not None:
        canvas.y += 2
        _one_bar(canvas, then, PREVIOUS_HEIGHT, PREVIOUS_BAR, MUTED)
    canvas.y += GAP


def _one_bar(canvas: _Canvas, option: OptionCount, height: int, colour: str, text_colour: str) -> None:
    width = TRACK * min(max(option.share, 0.0), 1.0)
    canvas.rect(MARGIN, canvas.y, width, height, colour)
    size = LABEL_SIZE if height >= 16 else 12
    baseline = canvas.y + int((height + size * 0.7) / 2)  # the value's digits centred on the bar
    canvas.text(MARGIN + int(width + 0.5) + 6, count_text(option), size, text_colour, y=baseline)
    canvas.y += height


def chart_title(result: QuestionResult, round_: str) -> str:
    return f"{result.question.text} (ronde {round_})"


def describe(result: QuestionResult, round_: str) -> str:
    """Every number of the chart in words, for screen readers (and for tests)."""
    sentences = [f"{_summary(result)}."]
    sentences.extend(f"{o.label}: {count_text(o)}." for o in result.options)
    before = result.previous
    if before is not None:
        sentences.append(f"Vorige ronde {before.round}, {before.answer_count}:")
        sentences.extend(f"{o.label}: {count_text(o)}." for o in before.options)
        if before.mean is not None:
            sentences.append(f"Gemiddelde toen {number(before.mean)}.")
        difference = before.mean_difference(result.mean)
        if difference is not None:
            sentences.append(
                f"Verschil in gemiddelde {'+' if difference >= 0 else '−'}{number(abs(difference))}."
            )
    return " ".join(sentences)


def round_charts(results: SurveyResults) -> dict[str, str]:
    """Question id → SVG, for every question of the round that has a chart."""
    charts = {}
    for result in results.questions:
        svg = question_chart(result, results.round)
        if svg is not None:
            charts[result.id] = svg
    return charts
