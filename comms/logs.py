"""How every process logs: plain text lines (the default) or, on request, one JSON object per
line for a log collector (`comms --log-format json`, or COMMS_LOG_FORMAT=json).

A JSON line has `time` (ISO 8601, UTC), `level`, `logger` and `message`, plus the record's
extra fields (an edition's key, counts). Only the standard library here: the CLI group imports
this module before it knows which command runs.

What goes into a log is the same in both formats, and never personal: ledger and public ids,
edition keys and counts, never an address or a name.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TextIO

FORMAT_VARIABLE = "COMMS_LOG_FORMAT"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured copy of the message
    "taskName",
}
_chosen: str | None = None


def choose(log_format: str) -> None:
    """The format for this process (the CLI's --log-format); else COMMS_LOG_FORMAT, else text."""
    global _chosen
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    _chosen = log_format


def chosen() -> str:
    wanted = _chosen or os.environ.get(FORMAT_VARIABLE, "").strip().lower() or "text"
    return wanted if wanted in FORMATS else "text"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatter() -> logging.Formatter:
    return JsonFormatter() if chosen() == "json" else logging.Formatter(TEXT_FORMAT)


def setup(level: int, stream: TextIO | None = None) -> None:
    """Send every record at `level` and above to stderr (or `stream`) in the chosen format,
    replacing the root logger's handlers (a second call changes the level or the format)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
