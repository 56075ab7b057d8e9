"""SendGrid transport: v3 Mail Send, up to 1000 recipients per request.

One request carries one content and many personalizations, so recipients are
grouped by what differs in their copy. Small optional blocks (the AV section,
a province's news) travel as substitutions, so they do not split a group;
theme choices do. Personal values are substitutions too.

Each request body is written once, as JSON bytes, from the edition's compiled
parts (comms.render's Personaliser pieces): the content once per request, and
per recipient only a small pre-encoded personalization. Nothing goes through a
generic dict-to-JSON layer per recipient.

SendGrid quirks that force choices here, each marked where it applies:
- one set of substitutions applies to every content part (and the subject), so a
  value that HTML-escaping changes needs two tags, one per part;
- substitutions are not recursive, and at most 10,000 bytes per personalization;
- substitutions apply to the subject, reply-to and content, never to headers;
- custom_args values must be strings;
- the same address may appear only once per request;
- top-level `custom_args` is a string in SendGrid's own API description, so only
  the personalization-level object is used;
- `sections` (a block sent once per request, named by a substitution) is not in
  SendGrid's current API description and its docs call section tags removed, so
  it is off unless `[sendgrid] sections = true`.
"""

from __future__ import annotations

import base64
import html
import http.client
import json
import random
import re
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring
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
ONE_CLICK = {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
_ESCAPED = re.compile("[&<>\"']")  # what html.escape(quote=True) changes


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


# A JSON string literal (C-accelerated), non-ASCII as UTF-8 rather than \u escapes: fewer bytes.
_json: Callable[[str], str] = encode_basestring


@dataclass(frozen=True, slots=True)
class Slot:
    """Adjacent substituted blocks in one part: one tag for all of them (the AV section and
    the provinces' news sit side by side, so a recipient carries one value, not one per block)."""

    tag: str  # "@@s.0@@" in the HTML, "@@u.0@@" in the text
    blocks: tuple[str, ...]


class Slots(NamedTuple):
    """What a layout's slots hold for one choice of blocks, shared by every recipient with it."""

    fragments: str  # '"@@s.0@@":"…","@@u.0@@":"…"', ready for a personalization's substitutions
    size: int  # bytes SendGrid counts against the 10,000: tags and values
    sections: tuple[tuple[str, str], ...]  # (key, text) of each section the values name


class Part:
    """One content part of a layout, cut into literals, fields and slots."""

    def __init__(
        self, personaliser: Personaliser, inline: frozenset[str], substituted: frozenset[str], tag: str
    ):
        pieces: list[str | Field | Slot] = []
        run: list[str] = []
        for piece in personaliser.pieces:
            if isinstance(piece, Block) and piece.name in substituted:
                run.append(piece.name)
                continue
            if isinstance(piece, Block) and piece.name not in inline:
                continue  # not in this content at all: the slot goes on across it
            if run and piece == "":
                continue  # nothing between two blocks: they stay one slot
            if run:
                pieces.append(Slot(f"@@{tag}.{len(pieces)}@@", tuple(run)))
                run = []
            pieces.extend(piece.parts if isinstance(piece, Block) else [piece])
        if run:
            pieces.append(Slot(f"@@{tag}.{len(pieces)}@@", tuple(run)))
        self.pieces = tuple(pieces)
        self.fields = frozenset(p.name for p in pieces if isinstance(p, Field))
        self.slots = tuple(p for p in pieces if isinstance(p, Slot))
        self.personaliser = personaliser

    def text(self, field_tag: dict[str, str]) -> str:
        return "".join(
            p if isinstance(p, str) else field_tag[p.name] if isinstance(p, Field) else p.tag
            for p in self.pieces
        )


class Layout:
    """One content variant of a mailing: the blocks written out (inline) and those that travel
    per recipient (substituted), worked out once and shared by every request that uses it."""

    def __init__(self, mailing: Mailing, inline: frozenset[str], substituted: frozenset[str], sections: bool):
        self.mailing = mailing  # held, so the cache key (its id) cannot be reused while cached
        self.inline = inline
        self.substituted = substituted
        self.sections = sections
        self.html = Part(mailing.html, inline, substituted, "s")
        self.text = Part(mailing.text, inline, substituted, "u")
        # Fields in both parts may share one tag; fields in one part only never need two.
        self.both = self.html.fields & self.text.fields
        # Per field: its HTML tag (None: not in the HTML), its text-only tag (None: not in the
        # text, or in both parts, where the HTML tag serves unless the request splits it).
        self.fields = tuple(
            (
                name,
                f'"@@c.{name}@@":' if name in self.html.fields else None,
                f'"@@t.{name}@@":' if name in self.text.fields - self.both else None,
            )
            for name in sorted(self.html.fields | self.text.fields)
        )
        self._slots: dict[frozenset[str], Slots] = {}
        self._section_keys: dict[tuple[str, str], str] = {}
        identity = mailing.identity
        self.custom_args = (  # quirk: custom_args values must be strings
            f'"comms_edition":{_json(identity.edition_key)},"comms_kind":{_json(identity.kind)}}}'
        )

    def slots(self, blocks: frozenset[str]) -> Slots:
        """What every slot holds for a recipient with these blocks; worked out once per choice."""
        cached = self._slots.get(blocks)
        if cached is None:
            values = [
                self._slot(slot, part, blocks) for part in (self.html, self.text) for slot in part.slots
            ]
            fragments = ",".join(f"{_json(tag)}:{_json(value)}" for tag, value, _ in values)
            size = sum(len(tag) + len(value.encode()) for tag, value, _ in values)
            cached = Slots(fragments, size, tuple(section for _, _, section in values if section))
            self._slots[blocks] = cached
        return cached

    def _slot(
        self, slot: Slot, part: Part, blocks: frozenset[str]
    ) -> tuple[str, str, tuple[str, str] | None]:
        text = "".join(part.personaliser.block(name).fill({}) for name in slot.blocks if name in blocks)
        if not (self.sections and text):
            return slot.tag, text, None
        # The recipient's substitution names the section; SendGrid puts the block there.
        key = self._section_keys.setdefault(
            (slot.tag, text), f"@@x.{slot.tag[2:-2]}.{len(self._section_keys)}@@"
        )
        return slot.tag, key, (key, text)

    def contents(self, split: frozenset[str]) -> list[dict[str, str]]:
        """The text and HTML content; `split`: fields whose text value has its own tag."""
        html_tags = {name: f"@@c.{name}@@" for name in self.html.fields}
        text_tags = {
            name: f"@@t.{name}@@" if name in split or name not in self.both else f"@@c.{name}@@"
            for name in self.text.fields
        }
        return [
            {"type": "text/plain", "value": self.text.text(text_tags)},
            {"type": "text/html", "value": self.html.text(html_tags)},
        ]


class Planned(NamedTuple):
    """One message's place in a request: its layout and its personalization, written out."""

    message: OutgoingMessage
    address: str  # ASCII: an IDN domain as punycode
    layout: Layout
    head: str  # '{"to":…,"custom_args":…,"headers":…' up to its substitutions
    substitutions: str  # what every request needs: slots, HTML values, text-only values
    differs: tuple[str, ...]  # fields in both parts whose value HTML-escaping changes
    sections: tuple[tuple[str, str], ...]

    def personalization(self, split: frozenset[str]) -> str:
        substitutions = self.substitutions
        if split:  # the text part's own value of each field split in this request
            values = self.message.values
            own = ",".join(
                f'"@@t.{name}@@":{_json(values[name])}' for name in sorted(split & self.layout.both)
            )
            substitutions = f"{substitutions},{own}" if substitutions else own
        if not substitutions:
            return self.head + "}"
        return f'{self.head},"substitutions":{{{substitutions}}}}}'


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
        # The official client is kept for what it knows: the API host and version, the
        # Authorization and User-Agent headers, and its error types. It is not used to send:
        # it serialises a dict with json.dumps and logs the whole payload at debug level, while
        # a body here is bytes already (and full of personal data).
        self.client = SendGridAPIClient(api_key=api_key, host=settings.api_host)
        self._url = f"{self.client.host.rstrip('/')}/v3/mail/send"
        self._headers = self.client.client.request_headers | {"Content-Type": "application/json"}
        self.requests_made = 0
        self._substitution_blocks: dict[int, frozenset[str]] = {}
        self._layouts: dict[tuple[int, frozenset[str]], Layout] = {}  # by a recipient's blocks
        self._variants: dict[tuple[int, frozenset[str], frozenset[str]], Layout] = {}

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
        groups: dict[int, list[Planned]] = defaultdict(list)
        for planned in messages:
            groups[id(planned.layout)].append(planned)
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

    def _layout(self, mailing: Mailing, blocks: frozenset[str]) -> Layout:
        """The layout for a recipient with these blocks: the substitutable ones travel per
        recipient, the others are written into the content."""
        key = (id(mailing), blocks)
        layout = self._layouts.get(key)
        if layout is None:
            substituted = self._substitution_blocks.get(id(mailing))
            if substituted is None:
                substituted = self._substitution_blocks[id(mailing)] = substitution_blocks(mailing)
            layout = self._variant(mailing, blocks - substituted, substituted)
            self._layouts[key] = layout
        return layout

    def _variant(self, mailing: Mailing, inline: frozenset[str], substituted: frozenset[str]) -> Layout:
        key = (id(mailing), inline, substituted)
        layout = self._variants.get(key)
        if layout is None:
            layout = self._variants[key] = Layout(mailing, inline, substituted, self.settings.sections)
        return layout

    def _plan(self, message: OutgoingMessage) -> Planned:
        """Which blocks go into the content and which travel as substitutions, and the
        message's personalization, written once.

        Raises for a message that cannot be sent: SendGrid takes no SMTPUTF8 address (quirk:
        it has no way to ask for it), so a non-ASCII local part fails here, with that reason.
        """
        if message.needs_smtputf8:
            raise AddressError(f"{message.address.utf8} {SMTPUTF8_NEEDED}; SendGrid offers no SMTPUTF8")
        address = message.address.ascii
        layout = self._layout(message.mailing, message.blocks)
        planned = self._planned(message, address, layout)
        if planned is None:  # quirk: 10,000 bytes at most; inline this copy's blocks
            planned = self._planned(
                message, address, self._variant(message.mailing, message.blocks, frozenset())
            )
            assert planned is not None  # without substituted blocks there is no fallback
        return planned

    def _planned(self, message: OutgoingMessage, address: str, layout: Layout) -> Planned | None:
        """The message's personalization in this layout; None when its substitutions could
        exceed SendGrid's 10,000 bytes in the largest form a request may need."""
        values = message.values
        parts = []
        differs = []
        for name, html_tag, text_tag in layout.fields:
            value = values[name]
            if html_tag:
                escaped = html.escape(value, quote=True) if _ESCAPED.search(value) else value
                parts.append(html_tag + _json(escaped))
                if escaped != value and name in layout.both:
                    differs.append(name)
            if text_tag:
                parts.append(text_tag + _json(value))
        fields = ",".join(parts)
        head = self._head(message, address, layout)
        # The request is encoded as UTF-8 as a whole: a value that cannot be (a lone surrogate)
        # must fail here, alone. The slots' values are the edition's own, and already counted.
        size = len(fields) if fields.isascii() else len(fields.encode())
        if not head.isascii():
            head.encode()
        slots = layout.slots(message.blocks)
        size += slots.size
        if layout.substituted and size > MAX_SUBSTITUTION_BYTES - 1000:  # near the limit: count exactly
            size += sum(len(values[name].encode()) + len(name) + 8 for name in layout.both)
            if size > MAX_SUBSTITUTION_BYTES:
                return None
        substitutions = (
            f"{slots.fragments},{fields}" if slots.fragments and fields else slots.fragments or fields
        )
        return Planned(message, address, layout, head, substitutions, tuple(differs), slots.sections)

    def _head(self, message: OutgoingMessage, address: str, layout: Layout) -> str:
        head = (
            f'{{"to":[{{"email":{_json(address)},"name":{_json(message.recipient.display_name)}}}],'
            f'"custom_args":{{"comms_message":"{message.ledger_id}",{layout.custom_args}'
        )
        if message.mailing.identity.bulk:
            # quirk: SendGrid substitutes in the subject, reply-to and content, never in headers,
            # so the personal List-Unsubscribe is written out here; the one-click
            # List-Unsubscribe-Post, the same for all, goes once in the top-level headers.
            head += f',"headers":{{"List-Unsubscribe":{_json(message.list_unsubscribe)}}}'
        return head

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

    def _post_with_retries(self, body: bytes) -> tuple[int, str, timedelta | None]:
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

    def _post(self, body: bytes) -> tuple[int, str, timedelta | None]:
        self.requests_made += 1
        request = urllib.request.Request(self._url, data=body, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout_seconds) as response:
                response.read()
                return response.status, "", None
        except urllib.error.HTTPError as exc:
            error = python_http_client.exceptions.handle_error(exc)
            return error.status_code, _error_text(error.body), self._reset_after(error.headers)
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

    def request_body(self, group: list[Planned]) -> bytes:
        """The request as the bytes that go out: what all its recipients share is written once
        here; each personalization was encoded when its message was planned."""
        # quirk: one set of substitutions serves both parts, so a field whose HTML-escaped value
        # differs for anyone in this request gets its own tag in the text part, and everyone in
        # the request sends both values; otherwise one value serves both parts.
        split = frozenset(name for planned in group for name in planned.differs)
        shared = json.dumps(self._shared(group, split), ensure_ascii=False, separators=(",", ":"))
        personalizations = ",".join(p.personalization(split) for p in group)
        return f'{{"personalizations":[{personalizations}],{shared[1:]}'.encode()

    def _shared(self, group: list[Planned], split: frozenset[str]) -> dict[str, Any]:
        layout = group[0].layout
        mailing = layout.mailing
        identity = mailing.identity
        headers = AUTOMATIC_HEADERS | ({"List-Id": mailing.list_id} | ONE_CLICK if identity.bulk else {})
        body: dict[str, Any] = {
            "from": {"email": identity.sender.address, "name": identity.sender.name},
            "subject": identity.subject,
            "content": layout.contents(split),
            "headers": headers,
            "categories": [identity.kind],
            "tracking_settings": {
                "click_tracking": {"enable": self.settings.track_clicks, "enable_text": False},
                "open_tracking": {"enable": self.settings.track_opens},
                # Our own List-Unsubscribe and links do this; SendGrid's would add a personal footer.
                "subscription_tracking": {"enable": False},
            },
        }
        sections = dict(section for planned in group for section in planned.sections)
        if sections:
            body["sections"] = sections
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
