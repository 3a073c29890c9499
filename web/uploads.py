"""Each upload's own size limit, refused from the request's declared length before the body is read.

The app keeps one cap for every request (`MAX_CONTENT_LENGTH`); a view that takes files says
its own with `@uploads.limit(bytes, field=...)`. The limit is checked here, before any other
hook parses the form (CSRF does), from `Content-Length`; a body sent without one (chunked) is
cut off by Werkzeug as it streams past the same limit, and answered alike.
"""
from __future__ import annotations

from flask import Flask, g, request

from ground.errors import TooLarge

#: Room for the multipart envelope and the form's small fields around the file itself.
ENVELOPE = 64 * 1024


def limit(max_bytes: int, *, field: str = "file"):
    """Mark a view as taking uploads of at most `max_bytes` in the form field `field`."""
    def mark(view):
        view.upload_limit = (field, max_bytes)
        return view
    return mark


def refusal() -> TooLarge | None:
    """Return the 413 of this request's upload limit (field and size named), if its view has one."""
    found = g.get("upload_limit")
    return TooLarge(*found) if found else None


def past_limit() -> bool:
    """Say whether this request's body is (or, sent in chunks, may be) over its upload limit,
    rather than refused for something else (a form of too many parts, say)."""
    found = g.get("upload_limit")
    return found is not None and (request.content_length is None
                                  or request.content_length > found[1] + ENVELOPE)


def init_app(app: Flask) -> None:
    """Apply each view's upload limit before anything reads the request's body."""

    @app.before_request
    def _limit():
        found = getattr(app.view_functions.get(request.endpoint), "upload_limit", None)
        if found is None:
            return
        g.upload_limit = found
        request.max_content_length = found[1] + ENVELOPE
        if request.content_length is not None and request.content_length > found[1] + ENVELOPE:
            raise TooLarge(*found)
