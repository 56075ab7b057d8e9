"""The web version's page: the mail's body in one <main> landmark, nothing else changed."""

from __future__ import annotations

import pytest

from comms.render.web_page import as_web_page


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            '<html><BODY class="x"><p>a</p></BODY></html>',
            '<html><BODY class="x"><main><p>a</p></main></BODY></html>',
        ),
        ("<body><p>a</p><!-- </body> --></body>", "<body><main><p>a</p><!-- </body> --></main></body>"),
        ("<p>a fragment</p>", "<p>a fragment</p>"),
        ("</body><body>", "</body><body>"),
    ],
    ids=["a page", "the last closing tag", "no body", "closed before opened"],
)
def test_the_body_goes_into_main(page: str, expected: str) -> None:
    assert as_web_page(page) == expected
