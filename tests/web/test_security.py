"""HSTS: on every response when the pages are served over https, and only then."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from comms.service import Service
from comms.tokens import Purpose
from comms.web import create_app
from tests.web.support import Site, serve

REQUESTS = [
    ("GET", "/voorkeuren", {}),
    ("GET", "/afmelden/kapot", {}),
    ("GET", "/bestaat-niet", {}),
    ("POST", "/voorkeuren", {"content": b"x" * 10_000}),  # 413
    ("GET", "/healthz", {}),
    ("POST", "/webhooks/sendgrid", {"content": b"[]"}),
]


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://comms.ipo.example.org", "max-age=31536000"),
        ("http://localhost:8000", None),  # a development set-up: a browser would remember it
    ],
)
def test_hsts_on_every_response_when_the_base_url_is_https(
    site: Site, base_url: str, expected: str | None
) -> None:
    service = Service(dataclasses.replace(site.config, web_base_url=base_url), site.service.db)
    app = create_app(service, site.clock)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        requests = [*REQUESTS, ("GET", f"/voorkeuren/{site.token(Purpose.PREFERENCES)}", {})]
        for method, path, send in requests:
            response = client.request(method, path, **send)
            assert response.headers.get("strict-transport-security") == expected, (path, response.status_code)
    app.state.context.mail.close()
