"""The MJML structure of a template source: elements, attributes and tags that open and close.

mjml-python (mrml) compiles what it is given: an unknown element such as <mj-bogus> goes into
the mail as a raw HTML tag, an unknown attribute is dropped, and a tag closed in the wrong place
gives "unexpected end of stream" without a line. This check reads the template as the team
wrote it and names the file and line.

Jinja inside the MJML is read sensibly: its tags ({% … %}, {{ … }}, {# … #}) are blanked out,
line breaks kept; each tag is checked wherever it stands, but the nesting only along the first
branch of an {% if %} or {% for %} (its {% elif %} and {% else %} are alternatives to it, and
may open a tag that the first branch opens too).

The elements and attributes are those of MJML 4 that mrml, the engine of mjml-python,
implements. The binding ships them compiled, without a list to read, so they are listed here;
tests/render/test_mjml_check.py checks every element against mjml-python itself.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from comms.problems import Problem
from comms.tomlfile import closest

_PADDING = ("padding", "padding-top", "padding-right", "padding-bottom", "padding-left")
_BORDER = ("border", "border-top", "border-right", "border-bottom", "border-left", "border-radius")
_FONT = ("color", "font-family", "font-size", "font-style", "font-weight", "letter-spacing", "line-height")
_TEXT = (*_FONT, "text-decoration", "text-transform", "align")
_LINK = ("href", "rel", "target", "title", "name")
_BACKGROUND = (
    "background-color",
    "background-url",
    "background-repeat",
    "background-size",
    "background-position",
    "background-position-x",
    "background-position-y",
)
_ICONS = (
    "icon-align",
    "icon-width",
    "icon-height",
    "icon-position",
    "icon-wrapped-url",
    "icon-wrapped-alt",
    "icon-unwrapped-url",
    "icon-unwrapped-alt",
)
# Every element of the body takes these (mj-class names classes from <mj-attributes>).
_EVERY_BODY_ELEMENT = ("css-class", "mj-class", "container-background-color", *_PADDING)

BODY_ELEMENTS: dict[str, tuple[str, ...]] = {
    "mj-accordion": (*_BORDER, *_ICONS, "font-family"),
    "mj-accordion-element": (*_BORDER, *_ICONS, "background-color", "font-family"),
    "mj-accordion-title": (*_FONT, "background-color"),
    "mj-accordion-text": (*_FONT, "background-color"),
    "mj-button": (
        *_TEXT,
        *_LINK,
        *_BORDER,
        "background-color",
        "height",
        "inner-padding",
        "text-align",
        "vertical-align",
        "width",
    ),
    "mj-carousel": (
        "align",
        "border-radius",
        "icon-width",
        "left-icon",
        "right-icon",
        "thumbnails",
        "tb-border",
        "tb-border-radius",
        "tb-hover-border-color",
        "tb-selected-border-color",
        "tb-width",
    ),
    "mj-carousel-image": (
        *_LINK,
        "alt",
        "src",
        "thumbnails-src",
        "border-radius",
        "tb-border",
        "tb-border-radius",
    ),
    "mj-column": (
        *_BORDER,
        "background-color",
        "inner-background-color",
        "inner-border",
        "inner-border-top",
        "inner-border-right",
        "inner-border-bottom",
        "inner-border-left",
        "inner-border-radius",
        "width",
        "vertical-align",
        "direction",
    ),
    "mj-divider": ("align", "border-color", "border-style", "border-width", "width"),
    "mj-group": ("width", "vertical-align", "background-color", "direction"),
    "mj-hero": (
        *_BACKGROUND,
        "mode",
        "height",
        "width",
        "background-width",
        "background-height",
        "border-radius",
        "inner-background-color",
        "inner-padding",
        "inner-padding-top",
        "inner-padding-right",
        "inner-padding-bottom",
        "inner-padding-left",
        "vertical-align",
    ),
    "mj-image": (
        *_LINK,
        *_BORDER,
        "align",
        "alt",
        "fluid-on-mobile",
        "height",
        "sizes",
        "src",
        "srcset",
        "usemap",
        "width",
    ),
    "mj-navbar": (
        "align",
        "base-url",
        "hamburger",
        "ico-align",
        "ico-close",
        "ico-color",
        "ico-font-family",
        "ico-font-size",
        "ico-line-height",
        "ico-open",
        "ico-padding",
        "ico-padding-top",
        "ico-padding-right",
        "ico-padding-bottom",
        "ico-padding-left",
        "ico-text-decoration",
        "ico-text-transform",
    ),
    "mj-navbar-link": (*_TEXT, *_LINK),
    "mj-raw": ("position",),
    "mj-section": (*_BACKGROUND, *_BORDER, "direction", "full-width", "text-align"),
    "mj-social": (
        *_FONT,
        "align",
        "border-radius",
        "icon-height",
        "icon-size",
        "icon-padding",
        "inner-padding",
        "mode",
        "text-padding",
        "text-decoration",
    ),
    "mj-social-element": (
        *_FONT,
        *_LINK,
        "align",
        "alt",
        "background-color",
        "border-radius",
        "icon-height",
        "icon-size",
        "icon-padding",
        "icon-position",
        "text-padding",
        "text-decoration",
        "sizes",
        "src",
        "srcset",
        "vertical-align",
    ),
    "mj-spacer": ("height",),
    "mj-table": (
        *_FONT,
        "align",
        "border",
        "cellpadding",
        "cellspacing",
        "role",
        "table-layout",
        "width",
    ),
    "mj-text": (*_TEXT, "height", "vertical-align"),
    "mj-wrapper": (*_BACKGROUND, *_BORDER, "direction", "full-width", "text-align", "gap"),
}
HEAD_ELEMENTS: dict[str, tuple[str, ...]] = {
    "mj-attributes": (),
    "mj-breakpoint": ("width",),
    "mj-font": ("name", "href"),
    "mj-preview": (),
    "mj-style": ("inline",),
    "mj-title": (),
}
OTHER_ELEMENTS: dict[str, tuple[str, ...]] = {
    "mjml": ("lang", "dir", "owa"),
    "mj-head": (),
    "mj-body": ("width", "background-color", "css-class"),
    "mj-all": (),  # in <mj-attributes>: any attribute (checked as such below)
    "mj-class": (),
}
# Elements mjml-python knows but comms cannot use, and what to write instead.
NOT_USED = {
    "mj-include": 'comms compiles MJML without reading files: use Jinja\'s {% include "…" %} or {% import %}',
    # mjml compiles it to hidden white text, which on a light background is what spam filters
    # score as hidden text (SpamAssassin HTML_FONT_LOW_CONTRAST): an honest preheader is visible.
    "mj-preview": (
        "it becomes hidden white text that spam filters score (HTML_FONT_LOW_CONTRAST); "
        "write the preheader as the first visible line, an <mj-text> in the first <mj-section>"
    ),
}
ELEMENTS: dict[str, frozenset[str]] = {
    name: frozenset(attributes) | (frozenset(_EVERY_BODY_ELEMENT) if name in BODY_ELEMENTS else frozenset())
    for name, attributes in {**BODY_ELEMENTS, **HEAD_ELEMENTS, **OTHER_ELEMENTS}.items()
}
# Where each element may stand (MJML 4's rules); mrml is more lenient, and copies a child such as
# <mj-navbar-link> outside its parent into the mail as a raw tag. mj-raw goes anywhere,
# and any body element inside <mj-attributes> (setting defaults).
_CONTENT_PARENTS = ("mj-column", "mj-hero")
PARENTS: dict[str, tuple[str, ...]] = {
    "mj-head": ("mjml",),
    "mj-body": ("mjml",),
    **{name: ("mj-head",) for name in HEAD_ELEMENTS},
    "mj-all": ("mj-attributes",),
    "mj-class": ("mj-attributes",),
    "mj-wrapper": ("mj-body",),
    "mj-section": ("mj-body", "mj-wrapper"),
    "mj-hero": ("mj-body", "mj-wrapper"),
    "mj-group": ("mj-section",),
    "mj-column": ("mj-section", "mj-group"),
    **{
        name: _CONTENT_PARENTS
        for name in (
            "mj-text",
            "mj-button",
            "mj-image",
            "mj-divider",
            "mj-spacer",
            "mj-table",
            "mj-social",
            "mj-navbar",
            "mj-accordion",
            "mj-carousel",
        )
    },
    "mj-accordion-element": ("mj-accordion",),
    "mj-accordion-title": ("mj-accordion-element",),
    "mj-accordion-text": ("mj-accordion-element",),
    "mj-carousel-image": ("mj-carousel",),
    "mj-navbar-link": ("mj-navbar",),
    "mj-social-element": ("mj-social",),
}
# Their content is HTML or text, not MJML: read up to their closing tag without looking inside.
ENDING_TAGS = frozenset(
    {
        "mj-text",
        "mj-button",
        "mj-table",
        "mj-raw",
        "mj-navbar-link",
        "mj-social-element",
        "mj-accordion-title",
        "mj-accordion-text",
        "mj-style",
        "mj-title",
        "mj-preview",
    }
)

_JINJA = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)
_JINJA_BLOCK = re.compile(r"\{%-?\s*(\w+)")
_BRANCH_OPENERS = frozenset({"if", "for"})
_BRANCH_ALTERNATIVES = frozenset({"elif", "else"})
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG_START = re.compile(r"<(/?)(mjml|mj-[A-Za-z0-9-]*)", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""\s*([^\s=/<>"']+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_TAG_END = re.compile(r"\s*(/?)>")


@dataclass(frozen=True, slots=True)
class _Tag:
    name: str
    closing: bool
    self_closing: bool
    attributes: tuple[str, ...]
    start: int
    end: int


class _Source:
    """One template file: its text with Jinja blanked, and the problems found in it."""

    def __init__(self, path: Path, where: str) -> None:
        self.where = where
        self.problems: list[Problem] = []
        self.has_broken_tags = False  # then the nesting is not checked: it would echo the broken tag
        raw = path.read_text(encoding="utf-8")
        self.text = _COMMENT.sub(_blank, _JINJA.sub(_blank, raw))
        self.first_branches = _COMMENT.sub(_blank, _first_branches(raw))

    def line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def add(self, reason: str, offset: int) -> None:
        self.problems.append(Problem(self.where, reason, line=self.line(offset)))


def check_mjml(path: Path, where: str | None = None) -> list[Problem]:
    """Unknown elements and attributes, and tags that do not open and close in order."""
    try:
        source = _Source(path, where or str(path))
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(where or str(path), f"cannot read the template: {exc}")]
    for tag, inside in _tags(source, source.text):
        _check_names(source, tag, inside)
    if not source.has_broken_tags:
        _check_nesting(source)
    return sorted(source.problems, key=lambda p: p.line or 0)


def _tags(source: _Source, text: str, *, report: bool = True) -> list[tuple[_Tag, str | None]]:
    """The MJML tags of `text` in order, each with the element it stands in (inside mj-attributes)."""
    found: list[tuple[_Tag, str | None]] = []
    stack: list[str] = []
    position = 0
    while (start := _TAG_START.search(text, position)) is not None:
        tag = _read_tag(text, start)
        if tag is None:
            source.has_broken_tags = True
            if report:
                source.add(
                    f"<{start[1]}{start[2]}: the tag is not closed with > (or an attribute is broken)",
                    start.start(),
                )
            position = start.end()
            continue
        found.append((tag, stack[-1] if stack else None))
        position = tag.end
        if tag.closing:
            if tag.name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(tag.name) :]
        elif not tag.self_closing:
            if tag.name in ENDING_TAGS:
                close = _closing_tag(source, text, tag, report=report)
                if close is None:  # reported: treat it as closed where it stands
                    found[-1] = (dataclasses.replace(tag, self_closing=True), found[-1][1])
                    continue
                position = close
            stack.append(tag.name)
    return found


def _closing_tag(source: _Source, text: str, tag: _Tag, *, report: bool) -> int | None:
    """Where the closing tag of an element with HTML inside is; None (reported) when another MJML
    tag comes first: then it was not closed."""
    after = _TAG_START.search(text, tag.end)
    if after is not None and after[1] == "/" and after[2].lower() == tag.name:
        return after.start()
    if report:
        runs_into = f"<{after[1]}{after[2]}> on line {source.line(after.start())}" if after else "the end"
        source.add(f"<{tag.name}> is not closed before {runs_into}: add </{tag.name}>", tag.start)
    return None


def _read_tag(text: str, start: re.Match[str]) -> _Tag | None:
    position, attributes = start.end(), []
    while (attribute := _ATTRIBUTE.match(text, position)) is not None and attribute.end() > position:
        attributes.append(attribute[1].lower())
        position = attribute.end()
    end = _TAG_END.match(text, position)
    if end is None:
        return None
    return _Tag(start[2].lower(), start[1] == "/", end[1] == "/", tuple(attributes), start.start(), end.end())


def _check_names(source: _Source, tag: _Tag, parent: str | None) -> None:
    if tag.name in NOT_USED:
        if not tag.closing:
            source.add(f"<{tag.name}> cannot be used here: {NOT_USED[tag.name]}", tag.start)
        return
    if tag.name not in ELEMENTS:
        guess = closest(tag.name, list(ELEMENTS))
        hint = f" (did you mean <{guess}>?)" if guess else ""
        if not tag.closing:
            source.add(f"unknown MJML element <{tag.name}>{hint}", tag.start)
        return
    if tag.closing or tag.name == "mj-all" or (parent == "mj-attributes" and tag.name == "mj-class"):
        return  # <mj-all> and <mj-class name="…"> set any attribute
    allowed = ELEMENTS[tag.name]
    for attribute in tag.attributes:
        if attribute not in allowed:
            guess = closest(attribute, sorted(allowed))
            hint = f" (did you mean '{guess}'?)" if guess else ""
            source.add(f"<{tag.name}> has no attribute '{attribute}'{hint}", tag.start)


def _check_nesting(source: _Source) -> None:
    """The first tag that stands where it may not, closes out of order, or is never closed: what
    follows it usually comes from the same mistake, so one problem per file."""
    open_tags: list[_Tag] = []
    for tag, _ in _tags(source, source.first_branches, report=False):
        if not tag.closing:
            parent = open_tags[-1] if open_tags else None  # None: a partial's fragment, placed where used
            if parent is not None and _misplaced(tag.name, parent.name):
                inside = f"<{parent.name}> (opened on line {source.line(parent.start)})"
                where = " or ".join(f"<{name}>" for name in PARENTS[tag.name])
                source.add(f"<{tag.name}> cannot stand inside {inside}: it belongs in {where}", tag.start)
                return
            if not tag.self_closing:
                open_tags.append(tag)
            continue
        if open_tags and open_tags[-1].name == tag.name:
            open_tags.pop()
            continue
        if open_tags:
            last = open_tags[-1]
            reason = f"</{tag.name}> does not match <{last.name}>, opened on line {source.line(last.start)}"
            source.add(f"{reason} and not closed: add </{last.name}> before it", tag.start)
        else:
            source.add(f"</{tag.name}> closes nothing: no <{tag.name}> is open here", tag.start)
        return
    if open_tags:
        unclosed = open_tags[-1]
        source.add(f"<{unclosed.name}> is never closed: add </{unclosed.name}>", unclosed.start)


def _misplaced(name: str, parent: str) -> bool:
    """Whether `name` may not stand in `parent`; an unknown parent is reported as such already."""
    allowed = PARENTS.get(name)
    in_defaults = parent == "mj-attributes" and name in BODY_ELEMENTS
    return allowed is not None and parent in ELEMENTS and parent not in allowed and not in_defaults


def _blank(found: re.Match[str]) -> str:
    """The match as spaces, its line breaks kept: offsets and line numbers stay as they were."""
    return re.sub(r"[^\n]", " ", found[0])


def _first_branches(raw: str) -> str:
    """The text with Jinja blanked and every {% elif %}/{% else %} branch blanked as well."""
    out: list[str] = []
    depth_skipping: list[bool] = []  # per open if/for: whether we are in an alternative branch
    position = 0
    for found in _JINJA.finditer(raw):
        chunk = raw[position : found.start()]
        out.append(_blank_text(chunk) if any(depth_skipping) else chunk)
        out.append(_blank_text(found[0]))
        position = found.end()
        block = _JINJA_BLOCK.match(found[0])
        keyword = block[1] if block else ""
        if keyword in _BRANCH_OPENERS:
            depth_skipping.append(False)
        elif keyword in _BRANCH_ALTERNATIVES and depth_skipping:
            depth_skipping[-1] = True
        elif keyword in ("endif", "endfor") and depth_skipping:
            depth_skipping.pop()
    tail = raw[position:]
    out.append(_blank_text(tail) if any(depth_skipping) else tail)
    return "".join(out)


def _blank_text(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)
