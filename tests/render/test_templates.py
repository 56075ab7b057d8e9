"""Template errors name the file and line, and stop the build before anything is stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from comms.kinds.newsletter import sample_content
from comms.render.newsletter import context
from comms.render.templates import TemplateError, Templates

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(REPO / "templates", target)
    return target


def break_template(templates: Path, name: str, old: str, new: str) -> None:
    path = templates / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def render(templates: Path) -> None:
    from comms.config import load_config

    config, _ = load_config(REPO / "comms.toml")
    assert config is not None
    sample = context(config, sample_content(), "k", "s") | {"sender": config.sender_for("newsletter")}
    Templates(templates).render(config.newsletter.template, sample)


@pytest.mark.parametrize(
    ("name", "old", "new", "where", "reason"),
    [
        (
            "newsletter/email.mjml",
            "{% if edition.intro_html %}",
            "{% if edition.intro_html %",
            "newsletter/email.mjml, line",
            "syntax error: unexpected '<'",
        ),
        (
            "newsletter/email.mjml",
            "{{ edition.subject }}",
            "{{ edition.subjekt }}",
            "newsletter/email.mjml, line 10",
            "undefined variable: ",
        ),
        (
            "newsletter/partials/blocks.mjml",
            "{{ entry.source }}",
            "{{ entry.bron }}",
            "newsletter/partials/blocks.mjml, line 19",
            "undefined variable: Entry has no attribute 'bron'",
        ),
        (
            "newsletter/email.txt",
            "{% for event in edition.events %}",
            "{% for event in edition.events %}{% endif %}",
            "newsletter/email.txt, line",
            "syntax error: Encountered unknown tag 'endif'",
        ),
        (
            "newsletter/email.mjml",
            "</mj-section>",
            "",
            "newsletter/email.mjml, line 29",
            "<mj-section> cannot stand inside <mj-section> (opened on line 22): it belongs in <mj-body>",
        ),
        (
            "newsletter/partials/blocks.mjml",
            "<mj-text padding-bottom=",
            "<mj-txt padding-bottom=",
            "newsletter/partials/blocks.mjml, line 17",
            "unknown MJML element <mj-txt> (did you mean <mj-text>?)",
        ),
        (
            "newsletter/email.mjml",
            "{{ recipient.first_name }}",
            "{{ recipient.voornaam }}",
            "newsletter/email.mjml, line",
            "undefined variable: RecipientFields has no attribute 'voornaam'",
        ),
    ],
)
def test_template_errors_name_file_line_and_reason(
    templates: Path, name: str, old: str, new: str, where: str, reason: str
) -> None:
    break_template(templates, name, old, new)
    with pytest.raises(TemplateError) as caught:
        render(templates)
    message = str(caught.value.problem)
    assert where in message
    assert reason in message


def test_the_repository_templates_render(templates: Path) -> None:
    render(templates)
