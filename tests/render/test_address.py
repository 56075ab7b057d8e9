"""Addresses on the wire: IDN domains as punycode, SMTPUTF8 only for a non-ASCII local part."""

from __future__ import annotations

import pytest

from comms.render.address import AddressError, MailAddress


@pytest.mark.parametrize(
    ("text", "ascii", "wire", "needs_smtputf8"),
    [
        ("lid@utrecht.example.org", "lid@utrecht.example.org", "lid@utrecht.example.org", False),
        ("jan@xn--bcher-kva.example", "jan@xn--bcher-kva.example", "jan@xn--bcher-kva.example", False),
        ("anna@bücher.example", "anna@xn--bcher-kva.example", "anna@xn--bcher-kva.example", False),
        ("anna@BÜCHER.example", "anna@xn--bcher-kva.example", "anna@xn--bcher-kva.example", False),
        ("anna@bu\u0308cher.example", "anna@xn--bcher-kva.example", "anna@xn--bcher-kva.example", False),
        ("jörg@example.org", None, "jörg@example.org", True),
        ("jörg@bücher.example", None, "jörg@bücher.example", True),
    ],
)
def test_an_address_has_an_ascii_form_unless_its_local_part_is_not_ascii(
    text: str, ascii: str | None, wire: str, needs_smtputf8: bool
) -> None:
    address = MailAddress.parse(text)

    assert address.needs_smtputf8 is needs_smtputf8
    assert address.wire == wire
    if ascii is None:
        with pytest.raises(AddressError, match=r"non-ASCII characters before the @.*SMTPUTF8"):
            _ = address.ascii
    else:
        assert address.ascii == ascii


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("piet@bü\u200dcher.example", "not a valid internationalised domain name"),
        ("piet@-bücher.example", "not a valid internationalised domain name"),
        ("geen-adres", "is not an e-mail address"),
        ("@bücher.example", "is not an e-mail address"),
    ],
)
def test_an_address_that_cannot_be_written_says_why(text: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        MailAddress.parse(text)
