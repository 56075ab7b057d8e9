"""SendGrid transport: v3 Mail Send, up to 1000 recipients per request.

One request carries one content and many personalizations, so recipients are
grouped by what differs in their copy. Small optional blocks (the AV section,
a province's news) travel as substitutions, so they do not split a group;
theme choices do. Personal values are substitutions too: `@@c.x@@` in the HTML
(values HTML-escaped) and `@@t.x@@` in the text part (values as they are),
because SendGrid applies one set of substitutions to every content part.

SendGrid quirks that force choices here, each marked where it applies:
- substitutions are not recursive, and at most 10,000 bytes per personalization;
- custom_args values must be strings;
- the same address may appear only once per request;
- top-level `custom_args` is a string in SendGrid's own API description, so only
  the personalization-level object is used.
"""

from __future__ import annotations

import base64
import html
import http.client
import json
import random
import urllib.error
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import python_http_client
from sendgrid import SendGridAPIClient

from comms.clock import Clock, SystemClock
from comms.config import SendgridConfig
from comms.deliver.transport import DeliveryResult, TransportUnavailable
from comms.render.address import SMTPUTF8_NEEDED, AddressError
from comms.render.message import AUTOMATIC_HEADERS, Mailing, OutgoingMessage
from comms.render.personalise import Block, Field, Personaliser

MAX_PERSONALIZATIONS = 1000
MAX_SUBSTITUTION_BYTES = 10_000
RETRY_LATER = timedelta(minutes=5)
PERMANENT = {400, 413}  # the request itself is wrong: sending it again cannot help
UNAVAILABLE = {401, 403}  # wrong or unauthorised API key: nothing can go out
# Sent in full, but no answer came (a timeout or a dropped connection while waiting for it):
# SendGrid may have accepted the request, so it is not sent again at once (see _post).
UNANSWERED = -1


def substitution_blocks(mailing: Mailing) -> frozenset[str]:
    """Blocks small enough, and free of personal fields, to travel as substitutions."""
    chosen = set()
    for name in mailing.html.blocks:
        if not (name == "av" or name.startswith("provincie:")):
            continue
        if mailing.html.block(name).fields or mailing.text.block(name).fields:
            continue  # quirk: a substitution value is not itself substituted
        chosen.add(name)
    return frozenset(chosen)


class Planned(NamedTuple):
    """One message's place in a request: the address, the blocks in the content, and its
    substitutions."""

    message: OutgoingMessage
    address: str  # ASCII: an IDN domain as punycode
    inline: frozenset[str]
    substituted: frozenset[str]
    substitutions: dict[str, str]


class SendgridTransport:
    name = "sendgrid"
    batch_size = MAX_PERSONALIZATIONS
    writes_files = False

    def __init__(
        self,
        settings: SendgridConfig,
        api_key: str,
        *,
        sandbox: bool = False,
        clock: Clock | None = None,
    ):
        self.settings = settings
        self.sandbox = sandbox
        self.clock = clock or SystemClock()
        self.client = SendGridAPIClient(api_key=api_key, host=settings.api_host)
        self.client.client.timeout = settings.timeout_seconds  # never wait forever
        self.requests_made = 0
        self._substitution_blocks: dict[int, frozenset[str]] = {}

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        planned, unbuildable = self._plan_all(messages)
        results = self._send_planned(planned)
        return results + unbuildable

    def _send_planned(self, messages: Sequence[Planned]) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        for group in self._requests(messages):
            try:
                results += self._send_request(group)
            except TransportUnavailable:
                if results:  # earlier requests were accepted: keep them, retry the rest
                    done = {r.ledger_id for r in results}
                    rest = [p.message for p in messages if p.message.ledger_id not in done]
                    return results + [
                        DeliveryResult(m.ledger_id, False, "SendGrid unavailable", RETRY_LATER) for m in rest
                    ]
                raise
        return results

    def _plan_all(self, messages: Sequence[OutgoingMessage]) -> tuple[list[Planned], list[DeliveryResult]]:
        """Each message's place in a request; one that cannot be written fails alone, before
        any request, so it never takes the others of its request down with it (a 400)."""
        planned: list[Planned] = []
        unbuildable: list[DeliveryResult] = []
        for message in messages:
            try:
                planned.append(self._plan(message))
            except Exception as exc:  # a message that cannot be written fails alone
                unbuildable.append(DeliveryResult.unbuildable(message.ledger_id, exc))
        return planned, unbuildable

    # -- grouping ---------------------------------------------------------------------

    def _requests(self, messages: Sequence[Planned]) -> list[list[Planned]]:
        """Messages that can share one request body, at most 1000, each address once."""
        groups: dict[tuple[int, frozenset[str], frozenset[str]], list[Planned]] = defaultdict(list)
        for planned in messages:
            groups[(id(planned.message.mailing), planned.inline, planned.substituted)].append(planned)
        requests: list[list[Planned]] = []
        for members in groups.values():
            current: list[Planned] = []
            addresses: set[str] = set()
            for planned in members:
                address = planned.address.lower()
                if len(current) == MAX_PERSONALIZATIONS or address in addresses:  # quirk: once per request
                    requests.append(current)
                    current, addresses = [], set()
                current.append(planned)
                addresses.add(address)
            if current:
                requests.append(current)
        return requests

    def _plan(self, message: OutgoingMessage) -> Planned:
        """Which blocks go into the content and which travel as substitutions, worked out once.

        Raises for a message that cannot be sent: SendGrid takes no SMTPUTF8 address (quirk:
        it has no way to ask for it), so a non-ASCII local part fails here, with that reason.
        """
        if message.needs_smtputf8:
            raise AddressError(f"{message.address.utf8} {SMTPUTF8_NEEDED}; SendGrid offers no SMTPUTF8")
        address = message.address.ascii
        mailing = message.mailing
        substituted = self._substitution_blocks.get(id(mailing))
        if substituted is None:
            substituted = self._substitution_blocks[id(mailing)] = substitution_blocks(mailing)
        values = _substitutions(message, substituted)
        if sum(len(k.encode()) + len(v.encode()) for k, v in values.items()) > MAX_SUBSTITUTION_BYTES:
            substituted = frozenset()  # quirk: 10,000 bytes at most; inline this copy's blocks
            values = _substitutions(message, substituted)
        return Planned(message, address, message.blocks - substituted, substituted, values)

    # -- one request ------------------------------------------------------------------

    def _send_request(self, group: list[Planned]) -> list[DeliveryResult]:
        body = self.request_body(group)
        status, detail, reset = self._post_with_retries(body)
        ids = [p.message.ledger_id for p in group]
        if status == 202:
            return [DeliveryResult(i, True) for i in ids]
        if status == UNANSWERED:  # the queue sends these once more, much later
            return [DeliveryResult(i, False, detail, uncertain=True) for i in ids]
        if status in UNAVAILABLE:
            raise TransportUnavailable(
                f"SendGrid refused the API key ({status}): {detail} (check COMMS_SENDGRID_API_KEY)"
            )
        reason = f"SendGrid {status}: {detail}"
        if status in PERMANENT:
            return [DeliveryResult(i, False, reason) for i in ids]
        return [DeliveryResult(i, False, reason, reset or RETRY_LATER) for i in ids]

    def _post_with_retries(self, body: dict[str, Any]) -> tuple[int, str, timedelta | None]:
        """POST, waiting out 429s (X-RateLimit-Reset) and backing off on 5xx and network errors."""
        status, detail, reset = 0, "", None
        for attempt in range(1, self.settings.max_retries + 2):
            status, detail, reset = self._post(body)
            if status == 202 or status == UNANSWERED or status in PERMANENT | UNAVAILABLE:
                return status, detail, reset
            if attempt <= self.settings.max_retries:
                wait = reset.total_seconds() if status == 429 and reset else _backoff(attempt)
                self.clock.sleep(wait)
        return status, detail, reset

    def _post(self, body: dict[str, Any]) -> tuple[int, str, timedelta | None]:
        self.requests_made += 1
        try:
            response = self.client.client.mail.send.post(request_body=body)
            return response.status_code, "", None
        except python_http_client.exceptions.HTTPError as exc:
            return exc.status_code, _error_text(exc.body), self._reset_after(exc.headers)
        except urllib.error.URLError as exc:
            # urllib wraps what fails while connecting and sending the request: not received in
            # full, so not accepted, and safe to send again.
            return 0, f"network error: {exc.reason}", None
        except (OSError, http.client.HTTPException) as exc:
            # What fails while waiting for the answer comes unwrapped: the request went out whole
            # and SendGrid may have accepted it. Sending it again at once could give every
            # recipient of the request a second copy, as a slow SMTP relay's 250 did.
            shown = str(exc) or type(exc).__name__
            return UNANSWERED, f"uncertain: SendGrid gave no answer to the request ({shown})", None

    def _reset_after(self, headers: Any) -> timedelta | None:
        value = headers.get("X-RateLimit-Reset") if headers else None
        if not value or not str(value).isdigit():
            return None
        reset = datetime.fromtimestamp(int(value), UTC)
        return max(reset - self.clock.now(), timedelta(0)) + timedelta(seconds=1)

    def request_body(self, group: list[Planned]) -> dict[str, Any]:
        first = group[0]
        mailing = first.message.mailing
        identity = mailing.identity
        html = _with_slots(mailing.html, first.inline, first.substituted, "c", "s")
        text = _with_slots(mailing.text, first.inline, first.substituted, "t", "u")
        body: dict[str, Any] = {
            "from": {"email": identity.sender.address, "name": identity.sender.name},
            "subject": identity.subject,
            "content": [{"type": "text/plain", "value": text}, {"type": "text/html", "value": html}],
            "personalizations": [_personalization(p) for p in group],
            "headers": AUTOMATIC_HEADERS | ({"List-Id": mailing.list_id} if identity.bulk else {}),
            "categories": [identity.kind],
            "tracking_settings": {
                "click_tracking": {"enable": self.settings.track_clicks, "enable_text": False},
                "open_tracking": {"enable": self.settings.track_opens},
                # Our own List-Unsubscribe and links do this; SendGrid's would add a personal footer.
                "subscription_tracking": {"enable": False},
            },
        }
        if identity.sender.reply_to:
            body["reply_to"] = {"email": identity.sender.reply_to}
        if mailing.attachments:
            body["attachments"] = [
                {
                    "content": base64.b64encode(a.data).decode("ascii"),
                    "filename": a.filename,
                    "type": a.content_type.split(";")[0],
                    "disposition": "attachment",
                }
                for a in mailing.attachments
            ]
        group_id = self.settings.asm_groups.get(identity.kind)
        if identity.forward_safe:
            # SendGrid quirk: tracking rewrites links and adds a pixel per recipient, and an ASM
            # group can add a personal unsubscribe footer; a body meant for forwarding gets none.
            tracking = body["tracking_settings"]
            tracking["click_tracking"]["enable"] = tracking["open_tracking"]["enable"] = False
            group_id = None
        if group_id is not None:
            body["asm"] = {"group_id": group_id}
        if self.sandbox:
            body["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return body


def _personalization(planned: Planned) -> dict[str, Any]:
    message = planned.message
    return {
        "to": [{"email": planned.address, "name": message.recipient.display_name}],
        "substitutions": planned.substitutions,
        # quirk: custom_args values must be strings
        "custom_args": {
            "comms_edition": message.mailing.identity.edition_key,
            "comms_message": str(message.ledger_id),
            "comms_kind": message.mailing.identity.kind,
        },
    } | _list_unsubscribe(message)


def _list_unsubscribe(message: OutgoingMessage) -> dict[str, Any]:
    """The one-click unsubscribe, for bulk mail only."""
    if not message.mailing.identity.bulk:
        return {}
    headers = {
        "List-Unsubscribe": message.list_unsubscribe,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return {"headers": headers}


def _with_slots(
    personaliser: Personaliser,
    inline: frozenset[str],
    substituted: frozenset[str],
    field_tag: str,
    block_tag: str,
) -> str:
    """The content: inline blocks written out, substituted blocks as one tag each."""
    pieces: list[str] = []
    for piece in personaliser.pieces:
        if isinstance(piece, Block):
            if piece.name in substituted:
                pieces.append(f"@@{block_tag}.{piece.name}@@")
            elif piece.name in inline:
                pieces.extend(_tagged(part, field_tag) for part in piece.parts)
        else:
            pieces.append(_tagged(piece, field_tag))
    return "".join(pieces)


def _tagged(part: str | Field, tag: str) -> str:
    return f"@@{tag}.{part.name}@@" if isinstance(part, Field) else part


def _substitutions(message: OutgoingMessage, substituted: frozenset[str]) -> dict[str, str]:
    mailing = message.mailing
    values = {f"@@c.{k}@@": html.escape(v, quote=True) for k, v in message.values.items()}
    values |= {f"@@t.{k}@@": v for k, v in message.values.items()}
    for name in substituted:
        keep = name in message.blocks
        values[f"@@s.{name}@@"] = mailing.html.block(name).fill({}) if keep else ""
        values[f"@@u.{name}@@"] = mailing.text.block(name).fill({}) if keep else ""
    return values


def _backoff(attempt: int) -> float:
    """Exponential with jitter: 1-2 s, 2-4 s, 4-8 s …, capped at a minute."""
    ceiling = min(2.0**attempt, 60.0)
    return random.uniform(ceiling / 2, ceiling)


def _error_text(body: bytes | str | None) -> str:
    if not body:
        return "no details"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        errors = json.loads(text).get("errors", [])
        return (
            "; ".join(
                f"{e.get('message')}" + (f" (field {e['field']})" if e.get("field") else "") for e in errors
            )
            or text[:500]
        )
    except (ValueError, AttributeError):
        return text[:500]
