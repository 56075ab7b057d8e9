"""Sanitised HTML fragments to readable plain text for the text/plain part."""

from __future__ import annotations

from html.parser import HTMLParser

from comms.render.wrap import wrap_paragraph

_BLOCKS = {"p", "div", "ul", "ol", "blockquote", "h1", "h2", "h3", "h4", "table", "tr"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.links: list[str | None] = []

    def _flush(self) -> None:
        text = " ".join("".join(self.current).split())
        if text:
            self.paragraphs.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._flush()
        elif tag == "li":
            self._flush()
            self.current.append("- ")
        elif tag == "br":
            self._flush()
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS or tag == "li":
            self._flush()
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and href not in "".join(self.current):
                self.current.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.current.append(data)


def html_to_text(fragment: str, width: int = 72) -> str:
    """Paragraphs wrapped at `width`, links written out after their text."""
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    parser._flush()
    return "\n\n".join(wrap_paragraph(p, width) for p in parser.paragraphs)
