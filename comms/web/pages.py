"""The recipients' and the team's pages, rendered on the server from templates/web.

Dutch, no JavaScript, no cookies. The project's own templates/web come first, then the
built-in ones, so a project can restyle a page without copying them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from comms.service import Service

BUILTIN_TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"


class Pages:
    """Renders templates/web (the project's own first, then the built-in ones)."""

    def __init__(self, service: Service):
        project = service.config.resolve(service.config.templates_dir) / "web"
        self.dirs = [d for d in (project, BUILTIN_TEMPLATES) if d.is_dir()]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.dirs),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        sender = service.config.sender
        self.globals = {"contact_address": sender.reply_to or sender.address}

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**self.globals, **context)
        return HTMLResponse(html, status_code=status)

    def problem(self, status: int, problem: str) -> HTMLResponse:
        return self.render("error.html", status, problem=problem)

    def stylesheet(self, name: str = "comms.css") -> bytes:
        for folder in self.dirs:
            path = folder / name
            if path.is_file():
                return path.read_bytes()
        return b""
