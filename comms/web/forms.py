"""Reading posted forms: every value of each field, or None when it is not a form.

Bodies are capped before they get here (`bodies.BodyLimit`), and every route checks its link's
token before it reads one.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.exceptions import HTTPException


async def read_form(request: Request) -> Mapping[str, list[str]] | None:
    """The posted fields (every value of each), or None when the body is not a form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_files=0, max_fields=100)
        except HTTPException:  # a broken multipart body
            return None
        fields = {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}
        await form.close()
        return fields
    # Some mail systems post the one-click body without a content type.
    body = await read_limited(request, 4096)
    if body is None:
        return None
    posted: dict[str, list[str]] = {}
    for key, value in parse_qsl(body.decode("latin-1")):
        posted.setdefault(key, []).append(value)
    return posted


def has_marker(form: Mapping[str, list[str]] | None, name: str) -> bool:
    """Whether a posted form is one of our own: each carries a hidden `formulier` field.

    An empty body, a JSON post or a form of another page changes nothing (400), so nothing
    is ever saved from a post that merely lacks its fields.
    """
    return form is not None and form.get("formulier") == [name]


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` bytes (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
