"""The SendGrid stand-in itself: spec validation, recording and injected faults, through httpx."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from python_http_client.exceptions import BadRequestsError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail

from tests.fakes.sendgrid import (
    BAD_KEY_MESSAGE,
    SPEC_PATH,
    Exchange,
    FakeSendGrid,
    rendered,
)

SENDER = {"email": "communicatie@ipo.example.org", "name": "IPO"}
Body = dict[str, Any]


def _body(*addresses: str) -> Body:
    """A valid Mail Send body: one personalization per address, as the sendgrid transport sends."""
    return {
        "personalizations": [
            {"to": [{"email": address}], "custom_args": {"contact": str(n)}}
            for n, address in enumerate(addresses or ("lid@utrecht.example.org",))
        ],
        "from": SENDER,
        "subject": "Nieuwsbrief Statenleden — mei 2026",
        "content": [{"type": "text/plain", "value": "Beste Statenleden,"}],
    }


def _post(server: FakeSendGrid, body: Any, *, key: str | None = None, timeout: float = 5.0) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or server.api_key}"}
    return httpx.post(f"{server.url}/v3/mail/send", json=body, headers=headers, timeout=timeout)


def _statuses(server: FakeSendGrid, count: int) -> list[int]:
    """Statuses of `count` requests over one kept-alive connection, as a transport would send them."""
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        bodies = [_body(f"lid{n}@example.org") for n in range(count)]
        return [client.post("/v3/mail/send", json=body).status_code for body in bodies]


def test_spec_is_found_in_the_repository_with_its_licence() -> None:
    assert SPEC_PATH.parts[-3:] == ("fakes", "sendgrid_openapi", "tsg_mail_v3.json")
    assert SPEC_PATH.is_file()
    assert SPEC_PATH.with_name("LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_a_valid_body_is_accepted_and_recorded(sendgrid_server: FakeSendGrid) -> None:
    response = _post(sendgrid_server, _body("a@example.org", "b@example.org"))

    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["X-Message-Id"]
    [request] = sendgrid_server.requests
    assert request.message_id == response.headers["X-Message-Id"]
    assert request.headers["authorization"] == "Bearer SG.test-key"
    assert request.body["subject"] == "Nieuwsbrief Statenleden — mei 2026"
    assert [p.request_index for p in sendgrid_server.accepted_personalizations()] == [0, 0]
    assert sendgrid_server.count_by_recipient() == {"a@example.org": 1, "b@example.org": 1}
    assert sendgrid_server.schema_violations == []


def _without_to(body: Body) -> None:
    del body["personalizations"][0]["to"]


def _from_without_email(body: Body) -> None:
    body["from"] = {"name": "IPO"}


def _top_level_custom_args_object(body: Body) -> None:
    body["custom_args"] = {"edition": "2026-05"}  # the spec types the top-level one as a string


def _personalization_custom_args_string(body: Body) -> None:
    body["personalizations"][0]["custom_args"] = "2026-05"


def _address_without_at(body: Body) -> None:
    body["personalizations"][0]["to"][0]["email"] = "lid.example.org"


def _no_personalizations(body: Body) -> None:
    body["personalizations"] = []


def _empty_to(body: Body) -> None:
    body["personalizations"][0]["to"] = []


def _1001_personalizations(body: Body) -> None:
    body["personalizations"] = [{"to": [{"email": f"lid{n}@example.org"}]} for n in range(1001)]


def _1001_recipients(body: Body) -> None:
    body["personalizations"] = [
        {"to": [{"email": f"lid{n}@example.org"}], "bcc": [{"email": f"kopie{n}@example.org"}]}
        for n in range(501)
    ]


def _same_address_in_two_personalizations(body: Body) -> None:
    body["personalizations"].append({"to": [{"email": "LID@utrecht.example.org"}]})


def _same_address_in_to_and_cc(body: Body) -> None:
    body["personalizations"][0]["cc"] = [{"email": "lid@utrecht.example.org"}]


def _substitutions_over_10000_bytes(body: Body) -> None:
    body["personalizations"][0]["substitutions"] = {"-a-": "x" * 5000, "-b-": "y" * 4998}


def _section_not_a_string(body: Body) -> None:
    body["sections"] = {"-utrecht-": ["Nieuws uit Utrecht"]}


def _section_inside_a_section(body: Body) -> None:
    body["sections"] = {"-utrecht-": "Nieuws -zeeland-", "-zeeland-": "Nieuws uit Zeeland"}


@pytest.mark.parametrize(
    ("break_body", "message", "field"),
    [
        (_without_to, "'to' is a required property", "$.personalizations[0]"),
        (_from_without_email, "'email' is a required property", "$.from"),
        (_top_level_custom_args_object, "is not of type 'string'", "$.custom_args"),
        (_personalization_custom_args_string, "is not of type 'object'", "$.personalizations[0].custom_args"),
        (_address_without_at, "is not a 'email'", "$.personalizations[0].to[0].email"),
        (_no_personalizations, "at least one personalization", "$.personalizations"),
        (_empty_to, "needs a to address", "$.personalizations[0].to"),
        (_1001_personalizations, "limited to 1000 personalizations", "$.personalizations"),
        (_1001_recipients, "limit of 1000 total recipients", "$.personalizations"),
        (_same_address_in_two_personalizations, "more than once", "$.personalizations[1].to[0]"),
        (_same_address_in_to_and_cc, "more than once", "$.personalizations[0].cc[0]"),
        (
            _substitutions_over_10000_bytes,
            "may not exceed 10000 bytes",
            "$.personalizations[0].substitutions",
        ),
        (_section_not_a_string, "values are strings", "$.sections"),
        (_section_inside_a_section, "another section", "$.sections['-utrecht-']"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_an_invalid_body_is_refused_and_recorded(
    sendgrid_server: FakeSendGrid, break_body: Callable[[Body], None], message: str, field: str
) -> None:
    body = _body()
    break_body(body)

    response = _post(sendgrid_server, body)

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert message in error["message"]
    assert error["field"] == field
    [violation] = sendgrid_server.schema_violations
    assert (violation.message, violation.field, violation.body) == (error["message"], field, body)
    assert sendgrid_server.requests == []


def test_top_level_custom_args_as_a_string_follows_the_spec(sendgrid_server: FakeSendGrid) -> None:
    body = _body()
    body["custom_args"] = "2026-05"
    assert _post(sendgrid_server, body).status_code == 202


def test_content_type_must_be_json(sendgrid_server: FakeSendGrid) -> None:
    response = httpx.post(
        f"{sendgrid_server.url}/v3/mail/send",
        content=b"{}",
        headers={"Authorization": f"Bearer {sendgrid_server.api_key}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 400
    assert "application/json" in response.json()["errors"][0]["message"]
    assert len(sendgrid_server.schema_violations) == 1


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer SG.wrong"}, {"Authorization": "SG.test-key"}]
)
def test_a_bad_key_gets_401(sendgrid_server: FakeSendGrid, headers: dict[str, str]) -> None:
    response = httpx.post(f"{sendgrid_server.url}/v3/mail/send", json=_body(), headers=headers)

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": BAD_KEY_MESSAGE, "field": None, "help": None}]}
    assert sendgrid_server.requests == []


def test_fail_every_third_request(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.fail_every = 3

    assert _statuses(sendgrid_server, 7) == [202, 202, 500, 202, 202, 500, 202]
    assert [e.request_number for e in sendgrid_server.exchanges if e.status == 500] == [3, 6]
    assert [r.request_number for r in sendgrid_server.requests] == [1, 2, 4, 5, 7]
    assert "lid2@example.org" not in sendgrid_server.count_by_recipient()


def test_rate_limit_for_the_next_requests(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.rate_limit_next = 2
    sendgrid_server.rate_limit_reset = 1_790_000_000

    first = _post(sendgrid_server, _body())
    assert first.status_code == 429
    assert first.headers["X-RateLimit-Limit"] == "600"
    assert first.headers["X-RateLimit-Remaining"] == "0"
    assert first.headers["X-RateLimit-Reset"] == "1790000000"
    assert _statuses(sendgrid_server, 2) == [429, 202]
    assert len(sendgrid_server.requests) == 1


def test_rate_limit_reset_defaults_to_the_next_second(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.rate_limit_next = 1
    before = int(time.time())
    reset = int(_post(sendgrid_server, _body()).headers["X-RateLimit-Reset"])
    assert before + 1 <= reset <= int(time.time()) + 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (413, None),
        (403, {"errors": [{"message": "The from address does not match a verified Sender Identity."}]}),
    ],
)
def test_status_override(sendgrid_server: FakeSendGrid, status: int, body: dict[str, Any] | None) -> None:
    sendgrid_server.status_override = status
    sendgrid_server.status_body = body

    response = _post(sendgrid_server, _body())

    assert response.status_code == status
    default = {"errors": [{"message": "content too large", "field": None, "help": None}]}
    assert response.json() == (body or default)
    sendgrid_server.status_override = None
    assert _post(sendgrid_server, _body()).status_code == 202


def test_a_held_request_times_the_client_out(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.hang_next = 1

    with pytest.raises(httpx.ReadTimeout):
        _post(sendgrid_server, _body("held@example.org"), timeout=0.5)
    assert _post(sendgrid_server, _body("next@example.org")).status_code == 202  # only one is held
    assert sendgrid_server.count_by_recipient() == {"next@example.org": 1}


def test_release_drops_a_held_request_unanswered(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.hang_next = 1
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            _post(sendgrid_server, _body())
        except httpx.HTTPError as error:
            outcome.append(error)

    client = threading.Thread(target=send)
    client.start()
    assert sendgrid_server.wait_until_held(1)
    sendgrid_server.release()
    client.join(timeout=5)

    assert [type(error) for error in outcome] == [httpx.RemoteProtocolError]
    assert sendgrid_server.exchanges == [Exchange(1, None)]
    assert sendgrid_server.requests == []


def test_teardown_releases_held_requests() -> None:
    with FakeSendGrid() as server:
        server.hang_next = 1
        with pytest.raises(httpx.ReadTimeout):
            _post(server, _body(), timeout=0.5)
    assert server.exchanges == [Exchange(1, None)]  # stop() joined the released handler


def _library_mail(*, top_level_custom_arg: bool) -> Mail:
    mail = Mail(
        from_email=(SENDER["email"], SENDER["name"]),
        to_emails=["a@example.org", "b@example.org"],
        subject="Agenda IPO-bestuur",
        plain_text_content="Beste gedeputeerde,",
        html_content="<p>Beste gedeputeerde,</p>",
        is_multiple=True,
    )
    mail.custom_arg = CustomArg("edition", "2026-05", p=None if top_level_custom_arg else 0)
    return mail


def test_a_body_built_by_sendgrids_library_validates(sendgrid_server: FakeSendGrid) -> None:
    client = SendGridAPIClient(api_key=sendgrid_server.api_key, host=sendgrid_server.url)

    response = client.send(_library_mail(top_level_custom_arg=False))

    assert response.status_code == 202
    assert sendgrid_server.schema_violations == []
    assert sendgrid_server.count_by_recipient() == {"a@example.org": 1, "b@example.org": 1}


def test_sendgrids_library_puts_top_level_custom_args_where_the_spec_wants_a_string(
    sendgrid_server: FakeSendGrid,
) -> None:
    """The library sends an object, the spec says string: keep custom_args on personalizations."""
    client = SendGridAPIClient(api_key=sendgrid_server.api_key, host=sendgrid_server.url)

    with pytest.raises(BadRequestsError):
        client.send(_library_mail(top_level_custom_arg=True))
    assert [v.field for v in sendgrid_server.schema_violations] == ["$.custom_args"]


def test_the_fake_does_not_change_what_it_is_given(sendgrid_server: FakeSendGrid) -> None:
    body = _body()
    original = copy.deepcopy(body)
    _post(sendgrid_server, body)
    assert sendgrid_server.requests[0].body == original


def test_substitutions_of_exactly_10000_bytes_are_accepted(sendgrid_server: FakeSendGrid) -> None:
    body = _body()
    body["personalizations"][0]["substitutions"] = {"-a-": "x" * 5000, "-b-": "y" * 4994}
    assert _post(sendgrid_server, body).status_code == 202


@pytest.mark.parametrize(
    ("content", "substitutions", "sections", "expected"),
    [
        ("Beste -naam-,", {"-naam-": "Anne & Co"}, {}, "Beste Anne & Co,"),
        # One pass: a value that looks like a tag stays as it is.
        ("-a- en -b-", {"-a-": "-b-", "-b-": "twee"}, {}, "-b- en twee"),
        # The longest tag wins where one tag starts another.
        ("-naam-en-", {"-naam-": "Anne", "-naam-en-": "Anne en Jan"}, {}, "Anne en Jan"),
        # A substitution names a section; the section's own tags are substituted too.
        (
            "<p>-blok-</p>",
            {"-blok-": ":utrecht", "-naam-": "Zoë"},
            {":utrecht": "Utrecht, -naam-"},
            "<p>Utrecht, Zoë</p>",
        ),
        ("<p>-blok-</p>", {"-blok-": ""}, {":utrecht": "Utrecht"}, "<p></p>"),
    ],
)
def test_rendered_applies_substitutions_then_sections_as_sendgrid_does(
    content: str, substitutions: dict[str, str], sections: dict[str, str], expected: str
) -> None:
    body = {"content": [{"type": "text/plain", "value": content}], "sections": sections}
    assert rendered(body, {"substitutions": substitutions}) == {"text/plain": expected}
