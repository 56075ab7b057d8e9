"""Every console route is driven in headless Chromium by a named test, and every page it shows
is checked with axe-core there. A route added to comms.web.console.ROUTERS without a browser
test makes this test fail: add its page to the browser tests, then to BROWSER_TESTS."""

from __future__ import annotations

import importlib

from comms.web import console

ACCESSIBILITY = "test_console_accessibility::"
JOURNEY = "test_console_journey::test_plan_check_approve_and_send_on_time"
REFUSALS = "test_console_refusals::"
NO_SCRIPT = "test_console_without_javascript::test_an_edition_goes_out_without_javascript"
LIVE = "test_console_live_progress::test_the_progress_page_updates_by_itself_while_the_worker_delivers"
STATES = ACCESSIBILITY + "test_the_edition_page_in_each_state"
PAGES = ACCESSIBILITY + "test_each_console_page_is_accessible"

# "METHOD path" → the browser tests that drive it (the first one runs axe on what it shows).
BROWSER_TESTS: dict[str, tuple[str, ...]] = {
    "GET /console/inloggen": (
        ACCESSIBILITY + "test_the_sign_in_page_and_a_refused_password",  # plain and with its error
        REFUSALS + "test_a_wrong_password_repeated_locks_the_account_until_the_lock_expires",  # locked
    ),
    "POST /console/inloggen": (
        REFUSALS + "test_a_wrong_password_repeated_locks_the_account_until_the_lock_expires",
        NO_SCRIPT,
    ),
    "POST /console/uitloggen": (ACCESSIBILITY + "test_signing_in_and_out_in_the_browser", NO_SCRIPT),
    "GET /console/": (PAGES, JOURNEY),  # plain, filtered, empty
    "GET /console": (PAGES,),
    "GET /console/edities/{key}": (JOURNEY, STATES, PAGES),  # draft, every later state; 404
    "GET /console/edities/{key}/voorbeeld/{number}": (JOURNEY,),  # the frames, photographed
    "POST /console/edities/{key}/testversie": (JOURNEY, NO_SCRIPT),
    "POST /console/edities/{key}/goedkeuren": (
        JOURNEY,  # an editor refused; four eyes refused; approved
        STATES,
        REFUSALS + "test_an_approval_without_the_sessions_token_is_refused_in_the_browser",
        REFUSALS + "test_a_post_with_the_browsers_cookies_but_no_token_is_refused",
        REFUSALS + "test_a_form_posted_from_another_origin_is_refused",
    ),
    "POST /console/edities/{key}/aanhouden": (STATES,),  # held, and refused without a reason
    "POST /console/edities/{key}/vervallen": (STATES,),
    "GET /console/edities/{key}/nu-versturen": (
        JOURNEY,
        ACCESSIBILITY + "test_a_page_beyond_ones_role_is_a_dutch_403",
    ),
    "POST /console/edities/{key}/nu-versturen": (STATES, NO_SCRIPT),
    "POST /console/edities/{key}/inleiding": (NO_SCRIPT,),
    "GET /console/edities/{key}/voortgang": (JOURNEY, LIVE, NO_SCRIPT),  # not started, running, done
    "GET /console/edities/{key}/voortgang.json": (LIVE,),
    "GET /console/edities/{key}/resultaten": (JOURNEY, NO_SCRIPT),
    "GET /static/console-progress.js": (LIVE,),
    "GET /static/console.css": (PAGES,),  # every page, at 1280 and 375 px
    "GET /console/agenda": (PAGES,),  # plain and filtered
    "GET /console/enquetes": (PAGES,),
    "GET /console/blokkades": (
        PAGES,
        ACCESSIBILITY + "test_an_editor_is_refused_the_admins_action_with_a_dutch_page",
    ),
    "POST /console/blokkades/opheffen": (ACCESSIBILITY + "test_an_admin_lifts_a_bounce_in_the_browser",),
    "GET /console/logboek": (PAGES,),  # plain and filtered
}


def test_every_console_route_has_a_browser_test() -> None:
    routes = {
        f"{method} {route.path}"
        for router in console.ROUTERS
        for route in router.routes
        for method in getattr(route, "methods", ())
    }
    assert routes == set(BROWSER_TESTS)
    for names in BROWSER_TESTS.values():
        for name in names:
            module, function = name.split("::")
            found = getattr(importlib.import_module(f"tests.web.console.{module}"), function, None)
            assert callable(found), name
