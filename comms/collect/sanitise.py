"""Make feed content safe to put in a mail: an allow-list for HTML, plain text for the rest.

nh3 (ammonia) does the cleaning. It does not say what it threw away, so a small
scan with the standard library's HTMLParser looks for the dangerous things
beforehand, only to tell the editor that a source sent them.
"""

from __future__ import annotations

import html
import unicodedata
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

import nh3

from comms.text import strip_invisible

ALLOWED_TAGS = frozenset(
    {"p", "br", "a", "strong", "em", "b", "i", "ul", "ol", "li", "blockquote", "h3", "h4"}
)
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer"

# Removed together with their content: their text is never meant to be read.
_DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "noscript", "template", "object", "svg", "math", "title"}
)
# Elements worth a warning when a source sends them; others (div, span, img …) go silently.
_ACTIVE = {"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg"}
_FORMS = {"form", "input", "button", "textarea", "select"}
_DOCUMENT = {"meta", "link", "base", "math", "template"}
_DANGEROUS_TAGS = frozenset(_ACTIVE | _FORMS | _DOCUMENT)
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "data", "poster", "background", "xlink:href"}
)
_DANGEROUS_SCHEMES = ("javascript", "vbscript", "data")

_html_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(_DROP_WITH_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    link_rel=LINK_REL,
    url_relative="deny",  # a relative link means nothing in a mailbox
    strip_comments=True,
)
_text_cleaner = nh3.Cleaner(tags=set(), clean_content_tags=set(_DROP_WITH_CONTENT))


def clean_html(raw: str) -> tuple[str, list[str]]:
    """Return the allow-listed HTML and, in plain words, the dangerous things removed."""
    if not raw:
        return "", []
    # After cleaning: the parser turns &#x202E; into the character itself.
    return strip_invisible(_html_cleaner.clean(raw)).strip(), _find_dangers(raw)


def clean_text(raw: str) -> str:
    """Plain text on one line: no tags, no entities, no control or invisible format characters
    (header-safe, and no bidi controls to turn what a reader sees around)."""
    if not raw:
        return ""
    # Before parsing too: the HTML parser drops a NUL where a space belongs.
    text = html.unescape(_text_cleaner.clean(_blank_controls(raw)))
    return " ".join(strip_invisible(_blank_controls(text)).split())


def safe_link(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) address that is safe to put in a mail, else None."""
    if not url:
        return None
    url = strip_invisible(url).strip().replace(" ", "%20")  # sloppy feeds leave spaces in paths
    if any(_is_control(c) or c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return urlunsplit(parts._replace(scheme=parts.scheme.lower()))


def cap_html(cleaned: str, max_chars: int) -> tuple[str, bool]:
    """Allow-listed HTML cut after about `max_chars` characters of text (at a word, with an
    ellipsis), and whether it was cut. Markup counts too, at a quarter, so a summary of empty
    tags cannot grow without end; the cleaner closes what the cut leaves open."""
    capper = _Capper(max_chars)
    # What is read is cut within its text or markup budget: no need to parse megabytes.
    enough = 5 * max_chars + 100
    capper.feed(cleaned[:enough])
    capper.close()
    if not capper.cut and len(cleaned) <= enough:
        return cleaned, False
    if not capper.cut:  # character references made the prefix's text short
        capper.out.append("…")
    return _html_cleaner.clean("".join(capper.out)).strip(), True


class _Capper(HTMLParser):
    def __init__(self, budget: int):
        super().__init__(convert_charrefs=True)
        self.budget, self.markup_budget = budget, 4 * budget
        self.out: list[str] = []
        self.cut = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._markup(self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._markup(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        self._markup(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self.cut:
            return
        if len(data) <= self.budget:
            self.out.append(html.escape(data, quote=False))
            self.budget -= len(data)
            return
        self.out.append(html.escape(_word_cut(data, self.budget), quote=False) + "…")
        self.cut = True

    def _markup(self, text: str) -> None:
        if self.cut:
            return
        self.markup_budget -= len(text)
        if self.markup_budget < 0:
            self.out.append("…")
            self.cut = True
            return
        self.out.append(text)


def _word_cut(text: str, length: int) -> str:
    """At most `length` characters of `text`, ending at a word where one ends not far back."""
    cut = text[:length]
    space = cut.rfind(" ")
    if space >= length // 2 and not text[length : length + 1].isspace():
        cut = cut[:space]
    return cut.rstrip(" ,;:–-")


def capped(text: str, length: int) -> str:
    """The text, cut to `length` characters with an ellipsis when it is longer."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _blank_controls(text: str) -> str:
    return "".join(" " if _is_control(c) else c for c in text)


def _is_control(char: str) -> bool:
    # Cc covers CR, LF, tab and the rest; Zl/Zp are the Unicode line and paragraph separators.
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def url_scheme(url: str) -> str:
    """The scheme as a browser would see it: blanks and control characters do not count."""
    squeezed = "".join(c for c in url if not (c.isspace() or _is_control(c)))
    scheme, colon, _ = squeezed.partition(":")
    return scheme.lower() if colon and scheme.isascii() and scheme.isalpha() else ""


class _DangerScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.reasons: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DANGEROUS_TAGS:
            self._note(f"removed <{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self._note(f"removed event-handler attribute {name}")
            elif name in _URL_ATTRIBUTES and value and url_scheme(value) in _DANGEROUS_SCHEMES:
                self._note(f"removed {url_scheme(value)}: URL")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def _note(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)


def _find_dangers(raw: str) -> list[str]:
    scanner = _DangerScanner()
    scanner.feed(raw)
    scanner.close()
    return scanner.reasons
