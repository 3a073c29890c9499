"""Rule files: what each deed is worth, its caps and review, how the public notice shows it.

Pure Python on plain data: no web framework, no database session.
"""
from importlib import import_module

#: Each name the package offers, by the module it comes from. They load when first asked for, so
#: `rules.bounds` (which every model reads) comes without YAML and marshmallow.
_FROM = {
    "cap_breach": "caps", "deed_points": "caps", "period_bounds": "caps",
    "Problem": "loading", "RuleFileInvalid": "loading", "check": "loading", "content_hash": "loading",
    "parse": "loading", "read_file": "loading",
    "ACCOUNT_UNITS": "model", "CAP_PERIODS": "model", "DEFAULT_CATEGORIES": "model",
    "NOTICE_MODES": "model", "UNITS": "model", "Cycle": "model", "Rule": "model", "RuleBook": "model",
    "Settings": "model", "Title": "model",
}

__all__ = sorted(_FROM)


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = getattr(import_module(f".{_FROM[name]}", __name__), name)
    return value
