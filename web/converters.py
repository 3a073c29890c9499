"""Bounded URL converters: an id or a period in a path beyond its bounds matches no route (404).

`int` and the default text converter are replaced app-wide, so every `<int:...>` and `<bank>`
already in the URL map is bounded without a view knowing it; `day`, `month` and `year` give the
periods of the cycle their shape. Each
converter also says how the OpenAPI document describes it (`openapi`).
"""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

from rules import bounds


class WholeConverter(BaseConverter):
    """An id: ASCII digits, 1 to the largest id a row can have (werkzeug's own takes any length
    and other scripts' digits); beyond, no row and no route, where the database would fail."""

    regex = r"[0-9]{1,16}"

    def __init__(self, url_map, min: int = 1, max: int = bounds.MAX_ID):  # noqa: A002
        super().__init__(url_map)
        self.min, self.max = min, max
        self.openapi = {"type": "integer", "minimum": min, "maximum": max}

    def to_python(self, value: str) -> int:
        number = bounds.parse_whole(value, min=self.min, max=self.max)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


def _year(text: str) -> int:
    year = int(text)
    if not bounds.YEAR_MIN <= year <= bounds.YEAR_MAX:
        raise ValidationError()
    return year


class YearConverter(BaseConverter):
    """A year of the cycle, 2000–2099; any other is no page at all (404)."""

    regex = r"[0-9]{4}"
    openapi = {"type": "integer", "minimum": bounds.YEAR_MIN, "maximum": bounds.YEAR_MAX}

    def to_python(self, value: str) -> int:
        return _year(value)

    def to_url(self, value) -> str:
        return f"{int(value):04d}"


class MonthConverter(BaseConverter):
    """Text shaped like a month, YYYY-MM; the view parses it, so "2026-13" is a 422 naming it."""

    regex = r"[0-9]{4}-[0-9]{2}"
    openapi = {"type": "string", "pattern": r"^20[0-9]{2}-(0[1-9]|1[0-2])$", "example": "2026-10"}


class DayConverter(BaseConverter):
    """Text shaped like a day, YYYY-MM-DD; the view parses it, so "2026-02-30" is a 422."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    openapi = {"type": "string", "format": "date", "example": "2026-10-15"}


class TextConverter(BaseConverter):
    """A bank code, a card token, a SKU: up to 200 characters, no control characters."""

    regex = "[^/\\x00-\\x1f\\x7f]{1,200}"
    # One segment of the path, as werkzeug's own text converter: said outright, since werkzeug
    # takes any regex naming "/" for one that may span segments, and then tries such a route's
    # whole remaining path against every rule of its kind (72 regexes for a deed's address).
    part_isolating = True
    openapi = {"type": "string", "minLength": 1, "maxLength": 200}


CONVERTERS = {"default": TextConverter, "string": TextConverter,
              "int": WholeConverter, "year": YearConverter, "month": MonthConverter,
              "day": DayConverter}


def init_app(app: Flask) -> None:
    """Install the bounded converters; call before any blueprint is registered."""
    app.url_map.converters.update(CONVERTERS)
