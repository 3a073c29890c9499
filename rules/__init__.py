"""Rule files: what each deed is worth, its caps and review, how the public notice shows it.

Pure Python on plain data: no web framework, no database session.
"""
from .caps import cap_breach, deed_points, period_bounds
from .loading import Problem, RuleFileInvalid, check, content_hash, parse
from .model import (ACCOUNT_UNITS, CAP_PERIODS, DEFAULT_CATEGORIES, NOTICE_MODES, UNITS, Cycle, Rule,
                    RuleBook, Settings, Title)

__all__ = ["ACCOUNT_UNITS", "CAP_PERIODS", "DEFAULT_CATEGORIES", "NOTICE_MODES", "UNITS", "Cycle",
           "Problem", "Rule", "RuleBook", "RuleFileInvalid", "Settings", "Title", "cap_breach",
           "check", "content_hash", "deed_points", "parse", "period_bounds"]
