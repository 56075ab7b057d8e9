"""The MJML structure of the templates: what mjml-python would compile silently or without a line."""

from __future__ import annotations

from pathlib import Path

import mjml
import pytest
from click.testing import CliRunner

from comms.cli import main
from comms.render.mjml_check import BODY_ELEMENTS, HEAD_ELEMENTS, PARENTS, check_mjml

REPO = Path(__file__).resolve().parents[2]

# Line numbers in the cases below refer to this template.
TEMPLATE = """\
<mjml lang="nl">
  <mj-head>
    <mj-title>{{ edition.subject }}</mj-title>
    <mj-attributes>
      <mj-all font-family="Arial" />
      <mj-text font-size="16px" />
      <mj-class name="klein" font-size="13px" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="#f2f4f7">
    <mj-section padding="16px">
      <mj-column>
        <mj-text>Beste {{ recipient.first_name }},</mj-text>
        <mj-text mj-class="klein">{{ edition.intro_html | safe }}</mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
"""
LINE_13 = "        <mj-text>Beste {{ recipient.first_name }},</mj-text>\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "email.mjml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_has_no_problems(tmp_path: Path) -> None:
    assert check_mjml(write(tmp_path, TEMPLATE)) == []


@pytest.mark.parametrize(
    ("old", "new", "line", "reason"),
    [
        pytest.param(
            LINE_13,
            LINE_13 + "        <mj-bogus/>\n",
            14,
            "unknown MJML element <mj-bogus>",
            id="unknown element",
        ),
        pytest.param(
            "<mj-text>Beste",
            '<mj-text colour="red">Beste',
            13,
            "<mj-text> has no attribute 'colour' (did you mean 'color'?)",
            id="unknown attribute",
        ),
        pytest.param(
            '<mj-all font-family="Arial" />',
            '<mj-all font-family="Arial" />\n      <mj-text fnt-size="16px" />',
            6,
            "<mj-text> has no attribute 'fnt-size' (did you mean 'font-size'?)",
            id="unknown attribute in mj-attributes",
        ),
        pytest.param(
            "      </mj-column>\n",
            "      </mj-colum>\n",
            15,
            "</mj-colum> does not match <mj-column>, opened on line 12",
            id="mismatched closing tag",
        ),
        pytest.param(
            "      </mj-column>\n    </mj-section>\n",
            "    </mj-section>\n",
            15,
            "</mj-section> does not match <mj-column>, opened on line 12 and not closed: add </mj-column>",
            id="closing tag skipped",
        ),
        pytest.param(
            ",</mj-text>",
            ",",
            13,
            "<mj-text> is not closed before <mj-text> on line 14: add </mj-text>",
            id="unclosed ending tag",
        ),
        pytest.param(
            "  </mj-body>\n</mjml>\n",
            "</mjml>\n",
            17,
            "</mjml> does not match <mj-body>, opened on line 10 and not closed: add </mj-body> before it",
            id="unclosed body",
        ),
        pytest.param(
            "</mjml>\n",
            "",
            1,
            "<mjml> is never closed: add </mjml>",
            id="unclosed at the end",
        ),
        pytest.param(
            "    </mj-section>\n  </mj-body>",
            "    </mj-section>\n    </mj-section>\n  </mj-body>",
            17,
            "</mj-section> does not match <mj-body>",
            id="closed twice",
        ),
        pytest.param(
            '<mj-section padding="16px">',
            '<mj-section padding="16px"',
            11,
            "<mj-section: the tag is not closed with >",
            id="tag without >",
        ),
        pytest.param(
            LINE_13,
            LINE_13 + '        <mj-navbar-link href="/x">x</mj-navbar-link>\n',
            14,
            "<mj-navbar-link> cannot stand inside <mj-column> (opened on line 12): it belongs in <mj-navbar>",
            id="child outside its parent",
        ),
        pytest.param(
            LINE_13,
            LINE_13 + "        <mj-section></mj-section>\n",
            14,
            "<mj-section> cannot stand inside <mj-column> (opened on line 12): it belongs in <mj-body> or",
            id="section in a column",
        ),
        pytest.param(
            LINE_13,
            LINE_13 + '        <mj-include path="./kop.mjml" />\n',
            14,
            "<mj-include> cannot be used here: comms compiles MJML without reading files: use Jinja's",
            id="mj-include",
        ),
        pytest.param(
            "    <mj-title>{{ edition.subject }}</mj-title>\n",
            "    <mj-title>{{ edition.subject }}</mj-title>\n    <mj-preview>Nieuws</mj-preview>\n",
            4,
            "<mj-preview> cannot be used here: it becomes hidden white text that spam filters score",
            id="mj-preview",
        ),
    ],
)
def test_a_structure_error_is_reported_with_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, reason: str
) -> None:
    assert old in TEMPLATE
    path = write(tmp_path, TEMPLATE.replace(old, new, 1))

    [problem] = check_mjml(path, "templates/newsletter/email.mjml")

    assert (problem.where, problem.line) == ("templates/newsletter/email.mjml", line)
    assert reason in problem.reason


@pytest.mark.parametrize(
    "jinja",
    [
        pytest.param(
            '{% if highlight %}\n<mj-section background-color="#fff8e1">\n'
            "{% else %}\n<mj-section>\n{% endif %}\n"
            "<mj-column><mj-text>x</mj-text></mj-column>\n</mj-section>\n",
            id="alternative opening tags",
        ),
        pytest.param(
            "{% for e in entries %}\n<mj-section><mj-column>\n"
            "{% else %}\n<mj-section><mj-column>\n{% endfor %}\n</mj-column></mj-section>\n",
            id="for with else",
        ),
        pytest.param(
            "<mj-section background-color=\"{{ '#fff' if x else '#000' }}\" {{ extra }}>"
            "<mj-column></mj-column></mj-section>\n",
            id="expressions in a tag",
        ),
        pytest.param(
            "{# <mj-bogus> in a comment #}<!-- <mj-bogus> --><mj-raw>{{ block_start('x') }}</mj-raw>\n",
            id="comments",
        ),
        pytest.param(
            "{% macro section(title) %}\n<mj-section><mj-column>\n{{ caller() }}\n</mj-column></mj-section>\n"
            "{% endmacro %}\n",
            id="a macro",
        ),
        pytest.param("<mj-social-element>x</mj-social-element>\n", id="a partial's fragment"),
    ],
)
def test_jinja_does_not_trip_the_check(tmp_path: Path, jinja: str) -> None:
    assert check_mjml(write(tmp_path, jinja)) == []


def test_each_problem_of_a_file_is_found_in_one_run(tmp_path: Path) -> None:
    text = TEMPLATE.replace(LINE_13, LINE_13 + "        <mj-bogus/>\n").replace(
        '<mj-body background-color="#f2f4f7">', '<mj-body bgcolor="#f2f4f7">'
    )
    assert [p.line for p in check_mjml(write(tmp_path, text))] == [10, 14]


@pytest.mark.parametrize("path", sorted((REPO / "templates").rglob("*.mjml")), ids=lambda p: p.name)
def test_the_shipped_templates_pass(path: Path) -> None:
    assert check_mjml(path) == []


@pytest.mark.parametrize("name", sorted(BODY_ELEMENTS))
def test_every_body_element_listed_is_one_mjml_python_compiles(name: str) -> None:
    """mjml-python copies an element it does not know into the HTML as it is; a known one it
    compiles into tables (given the parent it needs)."""
    element = f"<{name}></{name}>"
    for parent in reversed(_parents(name)):
        element = f"<{parent}>{element}</{parent}>"
    html = mjml.mjml2html(
        f"<mjml><mj-body><mj-section><mj-column>{element}</mj-column></mj-section></mj-body></mjml>"
    )
    assert f"<{name}" not in html


@pytest.mark.parametrize("name", sorted(HEAD_ELEMENTS))
def test_every_head_element_listed_is_one_mjml_python_accepts(name: str) -> None:
    mjml.mjml2html(f"<mjml><mj-head><{name}></{name}></mj-head><mj-body></mj-body></mjml>")  # raises if not


def test_mj_include_is_what_mjml_python_cannot_compile_here() -> None:
    with pytest.raises(ValueError, match="unable to load included template"):
        mjml.mjml2html('<mjml><mj-body><mj-include path="kop.mjml" /></mj-body></mjml>')


def test_an_unknown_element_is_what_mjml_python_lets_through() -> None:
    """Why this check exists: mjml-python compiles <mj-bogus> without a word."""
    html = mjml.mjml2html("<mjml><mj-body><mj-bogus/></mj-body></mjml>")
    assert "<mj-bogus" in html


def _parents(name: str) -> list[str]:
    """The parents a child element needs inside a column: <mj-navbar> for <mj-navbar-link>."""
    parents: list[str] = []
    while (parent := PARENTS.get(name, ("mj-column",))[0]) not in _IN_A_COLUMN:
        parents.insert(0, name := parent)
    return parents


_IN_A_COLUMN = {"mjml", "mj-body", "mj-wrapper", "mj-section", "mj-group", "mj-column", "mj-hero"}


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        pytest.param(
            "<mj-column>", "<mj-column>\n<mj-bogus/>", "unknown MJML element <mj-bogus>", id="mj-bogus"
        ),
        pytest.param(
            "</mj-column>", "</mj-colum>", "</mj-colum> does not match <mj-column>", id="mismatched"
        ),
    ],
)
def test_comms_check_rejects_it_with_the_line(project: Path, old: str, new: str, reason: str) -> None:
    template = project / "templates" / "agenda-digest" / "email.mjml"
    text = template.read_text(encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1 + new.count("\n")
    template.write_text(text.replace(old, new, 1), encoding="utf-8")

    result = CliRunner().invoke(
        main, ["--config", str(project / "comms.toml"), "check"], catch_exceptions=False
    )

    assert result.exit_code == 1
    assert f"agenda-digest/email.mjml, line {line}: {reason}" in result.output
    assert "Traceback" not in result.output
