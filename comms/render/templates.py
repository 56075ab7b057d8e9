"""Jinja2 fills the templates; mjml-python compiles MJML to e-mail HTML.

Template errors become Problems naming the template file and line, found when
an edition is built, so nothing is sent from a template that does not render.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import mjml

from comms import dates
from comms.problems import Problem, ValidationFailed
from comms.render.mjml_check import check_mjml
from comms.render.personalise import BLOCK_END, block_start
from comms.render.plaintext import html_to_text
from comms.render.wrap import tidy_text


class TemplateError(ValidationFailed):
    """A template that does not render: its problems (mostly one), naming the template file and line."""

    def __init__(self, problem: Problem, *more: Problem):
        super().__init__([problem, *more])
        self.problem = problem  # the first


@dataclass(frozen=True, slots=True)
class Rendered:
    html: str
    text: str


class Templates:
    """The templates/ folder the communications team edits."""

    def __init__(self, directory: Path):
        self.directory = directory.resolve()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            undefined=jinja2.StrictUndefined,  # a typo in a variable is an error, never blank
            autoescape=jinja2.select_autoescape(enabled_extensions=("mjml", "html"), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # Optional blocks (render.personalise): kept or cut per recipient after compiling.
        self.env.globals.update(block_start=block_start, block_end=BLOCK_END)
        self.env.filters.update(
            long_date=dates.long_date,
            short_date=dates.short_date,
            time_of_day=dates.time_of_day,
            time_range=dates.time_range,
            plain=html_to_text,
        )

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        """Render `<kind>/email.mjml` to HTML and `<kind>/email.txt` to text; its MJML (partials
        too) must pass render.mjml_check first, so nothing mjml-python would let through unseen
        is sent."""
        mjml_source = self._render(f"{kind}/email.mjml", context)
        folder = self.directory / kind
        structure = [p for path in sorted(folder.rglob("*.mjml")) for p in check_mjml(path, _display(path))]
        if structure:
            raise TemplateError(*structure)
        try:
            html = mjml.mjml2html(mjml_source, disable_comments=True)
        except ValueError as exc:
            raise TemplateError(
                Problem(self._path(f"{kind}/email.mjml"), f"MJML does not compile: {exc}")
            ) from exc
        # The text part laid out for every kind alike: wrapped, single blank lines, "-- ".
        return Rendered(html=html, text=tidy_text(self._render(f"{kind}/email.txt", context)))

    def structure_problems(self) -> list[Problem]:
        """Unknown MJML elements and attributes and tags that do not close, in every .mjml file
        (partials too), as the team wrote them: see render.mjml_check."""
        return [
            p for path in sorted(self.directory.rglob("*.mjml")) for p in check_mjml(path, _display(path))
        ]

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateSyntaxError as exc:
            where = self._path(str(exc.name or name))
            raise TemplateError(Problem(where, f"syntax error: {exc.message}", line=exc.lineno)) from exc
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(Problem(self._path(str(exc.name or name)), "template not found")) from exc
        except jinja2.UndefinedError as exc:
            file, line = self._template_frame(exc)
            reason = f"undefined variable: {_plain_type_names(exc.message or '')}"
            raise TemplateError(Problem(file or self._path(name), reason, line=line)) from exc

    def _template_frame(self, exc: BaseException) -> tuple[str | None, int | None]:
        """Jinja rewrites tracebacks to template lines; the innermost template frame is the culprit."""
        root = str(self.directory)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(root)]
        if not frames:
            return None, None
        return _display(Path(frames[-1].filename)), frames[-1].lineno

    def _path(self, name: str) -> str:
        return _display(self.directory / name)


def _plain_type_names(message: str) -> str:
    """ "'comms.compose.newsletter.Entry object' has no attribute 'x'" → "Entry has no attribute 'x'"."""
    return re.sub(r"'(?:\w+\.)*(\w+) object'", r"\1", message)


def _display(path: Path) -> str:
    """Paths as the user typed them: relative to the working directory where possible."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
