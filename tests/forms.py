"""Reading an HTML form back from a page: what each field holds and which problem sits beside it.

The form-error tests submit a form wrong and check, from the page that answers, that every
field holds what was typed and that the message is printed right after the field it is about.
"""
from __future__ import annotations

from html.parser import HTMLParser


class _Controls(HTMLParser):
    """The page's fields and field problems, in document order."""

    def __init__(self):
        super().__init__()
        #: ("field", name, value) and ("problem", text) events, in order.
        self.events: list[tuple] = []
        self._textarea = self._select = self._option = self._problem = None
        self._problem_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._problem is not None:
            self._problem_depth += 1
        if tag == "input" and a.get("type") == "hidden":
            self.events.append(("hidden", a.get("name"), a.get("value", "")))
        elif tag == "input" and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio"):
                # An unticked box holds nothing, but a problem after it is still beside it.
                self.events.append(("field" if "checked" in a else "unticked", a.get("name"),
                                    a.get("value", "on")))
            else:
                self.events.append(("field", a.get("name"), a.get("value", "")))
        elif tag == "textarea":
            self._textarea = [a.get("name"), ""]
        elif tag == "select":
            self._select = [a.get("name"), None, None]  # name, selected value, first value
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "selected" in a, ""]
        elif "field-error" in (a.get("class") or "").split() and self._problem is None:
            self._problem, self._problem_depth = "", 0

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea is not None:
            self.events.append(("field", self._textarea[0], self._textarea[1]))
            self._textarea = None
        elif tag == "option" and self._option is not None:
            self._end_option()
        elif tag == "select" and self._select is not None:
            if self._option is not None:
                self._end_option()
            name, chosen, first = self._select
            self.events.append(("field", name, chosen if chosen is not None else first))
            self._select = None
        elif self._problem is not None:
            if self._problem_depth == 0:
                self.events.append(("problem", self._problem.strip()))
                self._problem = None
            else:
                self._problem_depth -= 1

    def _end_option(self):
        value, selected, text = self._option
        value = text.strip() if value is None else value
        if self._select[2] is None:
            self._select[2] = value
        if selected:
            self._select[1] = value
        self._option = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data
        if self._option is not None:
            self._option[2] += data
        if self._problem is not None:
            self._problem += data


def read_form(html: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Return (each field's values, the problems printed right after each field) from a page."""
    parser = _Controls()
    parser.feed(html)
    values: dict[str, list[str]] = {}
    beside: dict[str, list[str]] = {}
    last = None
    for event in parser.events:
        if event[0] in ("field", "hidden"):
            values.setdefault(event[1], []).append(event[2])
        if event[0] in ("field", "unticked"):
            last = event[1]
        elif event[0] == "problem" and last is not None:
            beside.setdefault(last, []).append(event[1])
    return values, beside
