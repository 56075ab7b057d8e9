"""The team's results page of an anonymous round, viewed before and after every single response:
it changes only when a batch of at least k responses is written, so no view minus the one before
shows one respondent's answers (tests/survey/test_results.py tests the page's content)."""

from __future__ import annotations

import re

import httpx

from comms.clock import FixedClock
from comms.operations.surveys import results_link
from comms.service import Service
from comms.web import create_app
from tests.survey.test_pool import ORDER, K, at, service  # noqa: F401  (the round's fixture)
from tests.survey.test_rounds import recipients, send_due, start_approved
from tests.web.support import check_response, serve

PROCESSED = re.compile(r"<p>(\d+) reacties? verwerkt\.")


def open_answers(page: str) -> set[str]:
    listed = re.search(r'<ul class="open-answers">(.*?)</ul>', page, re.S)
    return set(re.findall(r"<li>(.*?)</li>", listed[1])) if listed else set()


def processed(page: str) -> int:
    found = PROCESSED.search(page)
    return int(found[1]) if found else 0


def test_no_single_response_can_be_read_from_two_views_of_the_results_page(service: Service) -> None:  # noqa: F811
    start = at(12, 1, 9)
    start_approved(service)
    send_due(service, start)
    links = recipients(service, "enquete-2026-h2-uitnodiging")
    clock = FixedClock(start)
    with (
        serve(create_app(service, clock)) as base_url,
        httpx.Client(base_url=base_url, event_hooks={"response": [check_response]}, timeout=10) as client,
    ):
        results = "/" + results_link(service, "2026-H2", start).split("/", 3)[3]
        before = client.get(results).text
        steps = []
        for minute, name in enumerate(ORDER):
            clock.moment = at(12, 2, 9, minute)
            form = {"action": "versturen", "bekendheid": "3", "toelichting": f"geschreven door {name}"}
            assert "Dank u wel" in client.post(f"/enquete/{links[name]}", data=form).text
            after = client.get(results).text
            new = open_answers(after) - open_answers(before)
            if after != before:  # a batch: at least k new answers at once, and the count moved by as many
                assert len(new) >= K and processed(after) - processed(before) == len(new), name
            steps.append(len(new))
            before = after
        clock.moment = at(12, 22, 17)  # closed: the rest of the pool is written
        final = client.get(results).text

    assert steps == [0] * 9 + [5] + [0] * 3
    assert len(open_answers(final) - open_answers(before)) == 8 >= K
    assert processed(final) == len(ORDER) == len(open_answers(final))
    assert "13 van de 21 genodigden hebben de vragenlijst ingevuld" in final
