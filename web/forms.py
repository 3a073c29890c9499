"""What a screen's form typed, checked with the same bounds as the API's schemas (rules/bounds.py).

A screen answers its own form again with the problem next to the field, so it needs the reason
as words in the reader's language rather than an exception.
"""
from __future__ import annotations

from ground.i18n import render
from rules import bounds


def typed_text(value: str | None) -> str:
    """Return text as a form sent it: CRLF line ends as newlines, outer blanks dropped."""
    return bounds.newlines(value or "").strip()


def typed_whole(value: str | None) -> int | str | None:
    """Return a whole number typed in a form as one, else what was typed, for a schema to refuse
    by name (so "²" or 10^30 is a 422 naming the field, as in the API)."""
    number = bounds.parse_whole(value)
    return value if number is None else number


def text_problems(value: str, *, max_len: int, multiline: bool = False,
                  allow_blank: bool = True) -> list[str] | None:
    """Return why typed text is refused (control characters, unpaired surrogates, too long,
    blank when it may not be), in the reader's language, or None."""
    problem = bounds.text_problem(value, max_len=max_len, multiline=multiline, allow_blank=allow_blank)
    return [render(problem)] if problem else None
