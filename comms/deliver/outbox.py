"""The outbox transport: one .eml file per message, for any machine and for review.

Files are named after the recipient's public id and written atomically
(temporary file, then rename), so delivering a message again after a crash
replaces its file: the outbox holds exactly one copy per recipient.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from comms.deliver.transport import DeliveryResult
from comms.dutch import Noun
from comms.render.message import OutgoingMessage


class OutboxTransport:
    name = "outbox"
    batch_size = 500
    writes_files = True

    def __init__(self, directory: Path, edition_key: str):
        self.messages_dir = directory / edition_key / "messages"

    def open(self) -> None:
        self.messages_dir.mkdir(parents=True, exist_ok=True)

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[DeliveryResult]:
        results = []
        for message in messages:
            try:
                data = message.data
            except Exception as exc:  # a message that cannot be written fails alone
                results.append(DeliveryResult.unbuildable(message.ledger_id, exc))
                continue
            try:
                self._write(message, data)
                results.append(DeliveryResult(message.ledger_id, delivered=True))
            except OSError as exc:
                results.append(
                    DeliveryResult(message.ledger_id, delivered=False, reason=f"outbox: {exc.strerror}")
                )
        return results

    def _write(self, message: OutgoingMessage, data: bytes) -> None:
        target = self.messages_dir / f"{message.recipient.public_id}.eml"
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)

    def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class PreviewLink:
    label: str  # "Utrecht, AV-lid"
    file: str  # relative to the outbox
    recipients: int


def write_manifest(
    directory: Path,
    edition_key: str,
    subject: str,
    status: str,
    counts: dict[str, int],
    previews: list[PreviewLink],
) -> None:
    edition_dir = directory / edition_key
    edition_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "key": edition_key,
        "subject": subject,
        "status": status,
        "counts": counts,
        "previews": [asdict(p) for p in previews],
    }
    (edition_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    write_index(directory)


RECIPIENT = Noun("ontvanger", "ontvangers")


def write_index(directory: Path) -> Path:
    """index.html: every edition in this outbox with its counts and a preview per variant."""
    manifests = sorted(directory.glob("*/manifest.json"))
    blocks = [_edition_block(json.loads(path.read_text(encoding="utf-8"))) for path in manifests]
    page = _PAGE.format(body="\n".join(blocks) or "<p>Nog geen edities in deze outbox.</p>")
    index = directory / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _edition_block(manifest: dict) -> str:
    e = html.escape
    counts = ", ".join(f"{e(k)}: {v}" for k, v in manifest["counts"].items())
    rows = "\n".join(
        f'<li><a href="{e(p["file"])}">{e(p["label"])}</a> ({RECIPIENT.count(p["recipients"])})</li>'
        for p in manifest["previews"]
    )
    return (
        f"<section><h2>{e(manifest['subject'])}</h2>"
        f"<p>Editie <code>{e(manifest['key'])}</code>, status {e(manifest['status'])}. {counts}.</p>"
        f'<p>Berichten: <a href="{e(manifest["key"])}/messages/">{e(manifest["key"])}/messages/</a></p>'
        f"<h3>Voorbeeld per variant</h3><ul>{rows}</ul></section>"
    )


_PAGE = """<!doctype html>
<html lang="nl">
<head><meta charset="utf-8"><title>comms outbox</title>
<style>
body{{font-family:Arial,sans-serif;max-width:50rem;margin:2rem auto;color:#1a1a1a}}
a{{color:#004b87}}
</style>
</head>
<body>
<h1>Outbox</h1>
<p>Berichten die de outbox-transport heeft geschreven in plaats van te verzenden.</p>
{body}
</body>
</html>
"""
