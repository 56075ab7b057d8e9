"""Logging for every place the web app is served (`comms web`, `comms serve`), without tokens.

A link's token sits in the URL path (/enquete/…, /afmelden/…), and a token names its contact:
uvicorn's access log would otherwise hold every respondent's and unsubscriber's link. The
filter below rewrites every record before any handler writes it: the access log's path, the
app's own messages, and the text of exceptions. It removes whatever follows a route that
carries a token, every query string, and anything shaped like a signed token elsewhere.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from comms import logs

REDACTED = "[token]"
# Routes whose next path segment is a signed token (comms/web/*.py).
TOKEN_ROUTES = ("afmelden", "enquete", "resultaten", "voorbeeld", "voorkeuren")
_AFTER_ROUTE = re.compile(rf"(/(?:{'|'.join(TOKEN_ROUTES)})/)[^\s\"'?#]+")
_QUERY = re.compile(r"\?[^\s\"'#]*")
# comms.tokens.Signer: base64url(body) "." base64url(18-byte MAC, 24 characters)
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{24}(?![A-Za-z0-9_-])")
APP_FORMAT = logs.TEXT_FORMAT


def redact(text: str) -> str:
    text = _AFTER_ROUTE.sub(rf"\1{REDACTED}", text)
    text = _QUERY.sub("?" + REDACTED, text)
    return _TOKEN_SHAPE.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Takes the tokens out of the record's message, its arguments (uvicorn's access formatter
    reads the path from them) and its exception text, before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        else:
            record.msg = redact(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redacted(value: object) -> object:
    if isinstance(value, (int, float)) or value is None:  # kept for %d and the like
        return value
    return redact(str(value))


def log_config(app_level: str = "INFO") -> dict[str, Any]:
    """uvicorn's own logging configuration with the filter on every handler, and the app's loggers
    (the root) through a filtered handler too, at `app_level`."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"tokens": {"()": f"{__name__}.RedactTokens"}}
    config["formatters"]["app"] = {"format": APP_FORMAT}
    if logs.chosen() == "json":  # uvicorn's own lines (access, errors) as JSON objects too
        for name in ("default", "access", "app"):
            config["formatters"][name] = {"()": "comms.logs.JsonFormatter"}
    config["handlers"]["app"] = {
        "formatter": "app",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["tokens"]
    config["root"] = {"handlers": ["app"], "level": app_level}
    return config


def server_arguments() -> dict[str, Any]:
    """The uvicorn.Config arguments of every place that serves the app (`comms web`, `comms serve`)."""
    return {"proxy_headers": True, "server_header": False, "log_config": log_config()}
