"""Mail that comes back, as real mail systems write it: DSNs (RFC 3464), ARF complaints
(RFC 5965), mail to the List-Unsubscribe mailto, automatic replies. CRLF line ends, bytes."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

DATE = "Tue, 01 Dec 2026 09:30:00 +0100"


def _crlf(text: str) -> bytes:
    return text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n"


def dsn(
    to: str,
    status: str = "5.1.1",
    diagnostic: str | None = "smtp; 550 5.1.1 <x@example.org>: Recipient address rejected: User unknown",
    original_headers: str = "",
    action: str = "failed",
    recipient: str = "someone@provincie.example.org",
) -> bytes:
    """A Postfix-style DSN to `to` (the envelope sender of the original: our VERP address)."""
    diagnostic_line = f"Diagnostic-Code: {diagnostic}\n" if diagnostic else ""
    return _crlf(f"""Return-Path: <>
Delivered-To: {to}
From: MAILER-DAEMON@mx.provincie.example.org (Mail Delivery System)
To: {to}
Subject: Undelivered Mail Returned to Sender
Date: {DATE}
Message-ID: <20261201083000.ABC123@mx.provincie.example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.provincie.example.org.
I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.provincie.example.org
Arrival-Date: {DATE}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
{diagnostic_line}
--B1
Content-Type: text/rfc822-headers

{original_headers.strip()}

--B1--
""")


def arf(to: str, original: str) -> bytes:
    """An ARF abuse report (a mailbox provider's feedback loop) with the original attached."""
    return _crlf(f"""From: <fbl@feedback.example.net>
To: {to}
Subject: FW: complaint
Date: {DATE}
Message-ID: <fbl-1@feedback.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
 boundary="A1"

--A1
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received from IP 192.0.2.1.

--A1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <redacted@ipo.example.org>
Arrival-Date: {DATE}
Reported-Domain: ipo.example.org

--A1
Content-Type: message/rfc822
Content-Disposition: inline

{original.strip()}

--A1--
""")


def unsubscribe_mail(mailto: str, sender: str) -> bytes:
    """What a mail program sends for the List-Unsubscribe mailto (subject from the URL)."""
    parts = urlsplit(mailto)
    subject = parse_qs(parts.query)["subject"][0]
    return _crlf(f"""From: {sender}
To: {unquote(parts.path)}
Subject: {subject}
Date: {DATE}
Message-ID: <unsub-1@mail.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

This message was sent automatically to unsubscribe.
""")


def auto_reply(to: str) -> bytes:
    return _crlf(f"""From: griffie@provincie.example.org
To: {to}
Subject: Automatisch antwoord: IPO-nieuwsbrief
Date: {DATE}
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=utf-8

Ik ben afwezig tot en met 4 december.
""")


def plain_bounce(to: str, text: str) -> bytes:
    """A bounce without an RFC 3464 report (old qmail style), to our return path."""
    return _crlf(f"""From: MAILER-DAEMON@old.example.org
To: {to}
Subject: failure notice
Date: {DATE}

Hi. This is the qmail-send program at old.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.

<someone@old.example.org>:
{text}
""")


def original_headers(raw: bytes, return_path: str) -> str:
    """The header block of a message we sent, as the receiving system keeps it."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return f"Return-Path: <{return_path}>\n" + head.replace("\r\n", "\n")


def original_message(raw: bytes, return_path: str) -> str:
    return f"Return-Path: <{return_path}>\n" + raw.decode("ascii").replace("\r\n", "\n")
