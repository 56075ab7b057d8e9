"""An edition's compiled HTML as a page on the web (the public web version)."""

from __future__ import annotations

import re

_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


def as_web_page(page: str) -> str:
    """The body's content in a <main> landmark: a web page has one for screen readers to jump
    to, while a mail is shown inside the mail client's own page, which has its own."""
    opened = _BODY_OPEN.search(page)
    closed = [*_BODY_CLOSE.finditer(page)][-1:]  # the last one
    if opened is None or not closed or closed[0].start() < opened.end():
        return page
    end = closed[0].start()
    return f"{page[: opened.end()]}<main>{page[opened.end() : end]}</main>{page[end:]}"
