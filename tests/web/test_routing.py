"""Routing: a text part of a path (a bank code, a card token) is one segment, and finding the
route for it is a walk down the segments, not a trial of every route's whole pattern."""
from __future__ import annotations

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, RequestRedirect

from web.converters import CONVERTERS, TextConverter

TEXTS = ["hp", "a.b-c_d", "王家", "x" * 200, "x" * 201, "a b", "%2F"]


class _Spanning(TextConverter):
    # The same pattern taken as werkzeug takes any regex that names "/": it may span segments.
    part_isolating = False


def _outcome(adapter, path: str, method: str):
    try:
        return adapter.match(path, method=method)
    except RequestRedirect as redirect:
        return ("redirect", redirect.new_url)
    except HTTPException as refused:
        return (type(refused).__name__,)


def _sample(converter, text: str):
    name = type(converter).__name__
    if hasattr(converter, "items"):
        return sorted(converter.items)[0]
    return {"WholeConverter": 7, "YearConverter": 2026, "MonthConverter": "2026-10",
            "DayConverter": "2026-10-15"}.get(name, text)


def _paths(app):
    for rule in app.url_map.iter_rules():
        for text in TEXTS:
            values = {**(rule.defaults or {}),
                      **{arg: _sample(c, text) for arg, c in rule._converters.items()}}
            path = rule.build(values, append_unknown=False)[1]
            for method in sorted(rule.methods - {"OPTIONS"}):
                yield path, method
                yield path + "/", method
                yield path.replace("/", "//", 2), method
        if "bank" in rule._converters:
            yield rule.build({**(rule.defaults or {}), **{
                arg: _sample(c, "a/b") for arg, c in rule._converters.items()}},
                append_unknown=False)[1], "GET"


def test_a_text_part_is_one_segment_as_werkzeugs_own_text_is():
    assert TextConverter.part_isolating is True


def test_every_address_finds_the_route_it_found_when_text_could_span_segments(app):
    spanning = Map([rule.empty() for rule in app.url_map.iter_rules()],
                   converters={**CONVERTERS, "default": _Spanning, "string": _Spanning},
                   strict_slashes=app.url_map.strict_slashes,
                   merge_slashes=app.url_map.merge_slashes).bind("localhost")
    ours = app.url_map.bind("localhost")
    paths = sorted(set(_paths(app)))
    assert len(paths) > 1000
    differ = [(p, m, _outcome(ours, p, m), _outcome(spanning, p, m)) for p, m in paths
              if _outcome(ours, p, m) != _outcome(spanning, p, m)]
    assert differ == []
