"""The survey form over HTTP: shown with the draft, saved, checked, submitted once, closed on time.

Every response also passes `check_response` (security headers, no cookies) through the site's client.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from comms.tokens import Purpose
from tests.survey.seeding import CLOSES, DURING, OPENS, PAMFLET_ANSWERS, survey_token
from tests.web.support import ANNA, BRAM, Site
from tests.web.survey_pages import SurveyPage, SurveyRound, open_round

SAVED = "Uw antwoorden zijn bewaard; u kunt later verder."
QUESTIONS = 8  # in templates/surveys/pamflet.toml
REQUIRED = 6


@pytest.fixture
def survey(site: Site) -> SurveyRound:
    return open_round(site)


def post(survey: SurveyRound, action: str, answers: dict[str, list[str]], contact: tuple[str, str] = ANNA):
    return survey.site.client.post(survey.url(contact), data={**answers, "action": action})


def test_the_form_shows_every_question_accessibly_and_needs_no_script(survey: SurveyRound) -> None:
    response = survey.site.client.get(survey.url())

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    page = SurveyPage(html)
    assert html.startswith("<!DOCTYPE html>") and '<html lang="nl">' in html
    assert page.counts["h1"] == 1
    assert "<title>Evaluatie van het pamflet 2026-H2 – IPO</title>" in html
    assert page.counts["fieldset"] == page.counts["legend"] == QUESTIONS
    assert page.scripting == []
    assert html.count("(verplicht)") == REQUIRED and html.count("(niet verplicht)") == QUESTIONS - REQUIRED
    assert " required" not in html  # HTML `required` would stop "Tussentijds bewaren" as well
    assert "tot dinsdag 22 december 2026, 17.00 uur" in html

    scale = page.named("bekendheid")
    assert [c.type for c in scale] == ["radio"] * 5
    assert [c.attrs["value"] for c in scale] == ["1", "2", "3", "4", "5"]
    assert [page.label_of(c) for c in scale] == [
        "Helemaal oneens",
        "Oneens",
        "Neutraal",
        "Eens",
        "Helemaal eens",
    ]
    assert {c.type for c in page.named("besproken")} == {"radio"}
    choices = page.named("ps-informatie")
    assert {c.type for c in choices} == {"checkbox"} and len(choices) == 6
    assert page.label_of(choices[0]) == "Via de wekelijkse lijst van GS-besluiten"
    (text,) = page.named("verbetering")
    assert (text.tag, text.attrs["maxlength"]) == ("textarea", "2000")
    assert page.label_of(text).startswith("Uw antwoord")
    assert all(page.label_of(c) for c in page.controls)  # every control has a visible label
    # Required radio groups say so to assistive technology; no errors yet.
    assert page.ids["v1-vraag"] and 'role="radiogroup"' in html and 'aria-required="true"' in html
    assert "aria-invalid" not in html and "error-summary" not in html
    buttons = [("versturen", "Antwoorden versturen"), ("opslaan", "Tussentijds bewaren")]
    for value, label in buttons:
        assert f'name="action" value="{value}"' in html and label in html
    assert survey.counts() == (0, 0, 0)  # a GET changes nothing


def test_a_saved_draft_is_there_when_the_respondent_comes_back(survey: SurveyRound) -> None:
    partial = {
        "bekendheid": ["2"],
        "ps-informatie": ["Op een andere manier"],
        "verbetering": ["Nog even over nadenken"],
    }

    response = post(survey, "opslaan", partial)

    assert response.status_code == 200
    assert SAVED in response.text
    assert 'role="status"' in response.text and "error-summary" not in response.text
    assert survey.counts() == (0, 1, 0)  # a draft, no response

    survey.site.clock.moment = DURING + timedelta(days=3)
    page = SurveyPage(survey.site.client.get(survey.url()).text)
    assert page.chosen("bekendheid") == ["2"]
    assert page.chosen("ps-informatie") == ["Op een andere manier"]
    assert page.chosen("besproken") == []
    assert page.texts["verbetering"] == "Nog even over nadenken"
    assert "dinsdag 8 december 2026 om 11.30 uur antwoorden bewaard" in " ".join(page.html.split())
    assert SurveyPage(survey.site.client.get(survey.url(BRAM)).text).chosen("bekendheid") == []
    assert survey.counts() == (0, 1, 0)


def test_sending_with_a_required_answer_missing_shows_the_errors_and_keeps_the_answers(
    survey: SurveyRound,
) -> None:
    answers = {**PAMFLET_ANSWERS, "besproken": [], "ps-tevredenheid": []}

    response = post(survey, "versturen", answers)

    assert response.status_code == 200
    html = response.text
    page = SurveyPage(html)
    assert "<title>Fout: Evaluatie" in html
    assert '<div class="error-summary" role="alert" aria-labelledby="fouten-titel">' in html
    assert "Controleer uw antwoorden" in html and "nog niet verstuurd" in html
    # The summary links to the first control of each question with an error, in question order.
    assert [link for link in page.links if link.startswith("#")] == ["#v2-1", "#v5-1"]
    assert "v2-1" in page.ids and "v5-1" in page.ids
    assert page.ids["v2-fout"] is not None and "kies één van de antwoorden" in html
    group = page.groups[1]
    assert group["aria-invalid"] == "true"
    assert group["aria-describedby"] == "v2-hint v2-fout"
    assert (group["role"], group["aria-labelledby"], group["aria-required"]) == (
        "radiogroup",
        "v2-vraag",
        "true",
    )
    assert [g.get("aria-invalid") for g in page.groups] == [
        None,
        "true",
        None,
        None,
        "true",
        None,
        None,
        None,
    ]
    assert page.chosen("bekendheid") == ["4"]  # what was given stays filled in
    assert page.chosen("ps-informatie") == PAMFLET_ANSWERS["ps-informatie"]
    assert page.texts["verbetering"] == "Eerder de stukken, graag."
    assert survey.counts() == (0, 0, 0)  # nothing stored


def test_an_answer_out_of_range_is_not_kept_in_a_draft_and_the_rest_is(survey: SurveyRound) -> None:
    response = post(survey, "opslaan", {"bekendheid": ["9"], "tijdigheid": ["3"]})

    assert response.status_code == 200
    assert "Kies een waarde van 1 tot en met 5." in response.text
    assert "Uw andere antwoorden zijn bewaard" in response.text
    page = SurveyPage(survey.site.client.get(survey.url()).text)
    assert (page.chosen("bekendheid"), page.chosen("tijdigheid")) == ([], ["3"])


def test_a_valid_submission_thanks_once_and_then_the_link_says_it_was_used(survey: SurveyRound) -> None:
    post(survey, "opslaan", {"bekendheid": ["1"]})

    response = post(survey, "versturen", PAMFLET_ANSWERS)

    assert response.status_code == 200
    assert "Dank u wel voor het invullen" in response.text
    assert survey.counts() == (1, 0, 1)  # the response; the draft is gone
    # An anonymous round: the answers wait, sealed, in the pool until a batch is written.
    (stored,) = survey.pooled()
    assert stored == {
        "bekendheid": 4,
        "besproken": "Meestal",
        "tijdigheid": 2,
        "ps-informatie": PAMFLET_ANSWERS["ps-informatie"],
        "ps-tevredenheid": 3,
        "nut": "Enigszins",
        "verbetering": "Eerder de stukken, graag.",
    }
    again = survey.site.client.get(survey.url())
    assert again.status_code == 409
    assert "U heeft deze enquête al ingevuld" in again.text
    twice = post(survey, "versturen", {**PAMFLET_ANSWERS, "bekendheid": ["1"]})
    assert twice.status_code == 409 and "al ingevuld" in twice.text
    assert post(survey, "opslaan", {"bekendheid": ["1"]}).status_code == 409
    assert survey.counts() == (1, 0, 1)


@pytest.mark.parametrize("action", ["opslaan", "versturen"])
def test_after_closing_a_post_shows_the_closed_page_and_stores_nothing(
    survey: SurveyRound, action: str
) -> None:
    page = survey.site.client.get(survey.url()).text  # the form opened before closing …
    assert "Antwoorden versturen" in page
    survey.site.clock.moment = CLOSES  # … is sent at 17.00 sharp

    response = post(survey, action, PAMFLET_ANSWERS)

    assert response.status_code == 410
    text = " ".join(response.text.split())
    assert "Deze enquête is gesloten op dinsdag 22 december 2026 om 17.00 uur." in text
    assert "Dank voor uw belangstelling." in text
    assert "<form" not in response.text
    assert survey.counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("moment", "status", "says"),
    [
        (
            OPENS - timedelta(hours=1),
            403,
            "U kunt de enquête invullen vanaf dinsdag 1 december 2026 om 9.00 uur.",
        ),
        (
            CLOSES + timedelta(days=40),
            410,
            "Deze enquête is gesloten op dinsdag 22 december 2026 om 17.00 uur.",
        ),
    ],
    ids=["not open yet", "closed"],
)
def test_outside_the_round_the_link_explains_when(
    survey: SurveyRound, moment, status: int, says: str
) -> None:
    survey.site.clock.moment = moment

    response = survey.site.client.get(survey.url())

    assert response.status_code == status
    assert says in " ".join(response.text.split())
    assert "Evaluatie van het pamflet 2026-H2" in response.text


def test_bad_links_get_a_dutch_page_and_change_nothing(survey: SurveyRound) -> None:
    signer = survey.site.service.signer()
    good = survey_token(signer, ANNA[1])
    cases = {
        "forged": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "garbage": "dit-is-geen-link",
        "another purpose": signer.sign(Purpose.PREFERENCES, ANNA[1], "2026-H2", CLOSES),
        "another round": survey_token(signer, ANNA[1], "2025-H2"),
        "expired": survey_token(signer, ANNA[1], expires_at=DURING - timedelta(days=1)),
    }
    for name, token in cases.items():
        for response in (
            survey.site.client.get(f"/enquete/{token}"),
            survey.site.client.post(f"/enquete/{token}", data={**PAMFLET_ANSWERS, "action": "versturen"}),
        ):
            expected = (410, "Deze link is verlopen") if name == "expired" else (400, "Deze link werkt niet")
            assert (response.status_code, expected[1] in response.text) == (expected[0], True), name
            assert '<html lang="nl">' in response.text and SurveyPage(response.text).scripting == []
    assert survey.counts() == (0, 0, 0)


def test_a_post_that_is_not_a_form_stores_nothing(survey: SurveyRound) -> None:
    response = survey.site.client.post(
        survey.url(),
        content=b"--x\r\nnot a part",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )

    assert response.status_code == 400
    assert "Uw antwoorden zijn niet ontvangen" in response.text
    assert survey.counts() == (0, 0, 0)


@pytest.mark.parametrize("anonymous", [True, False])
def test_only_an_anonymous_round_promises_anonymity(site: Site, anonymous: bool) -> None:
    survey = open_round(site, anonymous=anonymous)

    form = site.client.get(survey.url()).text
    thanks = post(survey, "versturen", PAMFLET_ANSWERS).text

    assert ("Uw antwoorden worden anoniem verwerkt" in form) == anonymous
    assert ("Ze worden anoniem verwerkt" in thanks) == anonymous
