"""What changed between two versions of a rule file: rules added, removed and changed field by field.

Pure: two RuleBooks in, plain values out. A rule is known by its code and the day it takes
effect, since one code may have several versions over time within a file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .model import Rule, RuleBook

#: A rule's fields compared, in the order a reader looks at them.
RULE_FIELDS = ("name", "category", "points", "unit", "caps", "review", "notice", "valid_from",
               "valid_until", "description")


@dataclass(frozen=True)
class Change:
    """One field that differs: its name, the value before and the value after."""

    field: str
    before: object
    after: object


@dataclass(frozen=True)
class RuleChange:
    """A rule present in both versions with the fields that differ."""

    rule: Rule
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class RuleDiff:
    """Everything that differs between a version and the one before it."""

    added: tuple[Rule, ...]
    removed: tuple[Rule, ...]
    changed: tuple[RuleChange, ...]
    #: The bank's settings (`bank:` and its cycle), as dotted names: cycle.objection_days.
    settings: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.settings)


def _key(rule: Rule) -> tuple:
    return rule.code, rule.valid_from


def diff(before: RuleBook | None, after: RuleBook) -> RuleDiff:
    """Return what `after` adds, removes and changes against `before` (None: everything is new)."""
    old = {_key(r): r for r in before.rules} if before else {}
    new = {_key(r): r for r in after.rules}
    changed = []
    for key, rule in new.items():
        if key in old:
            changes = tuple(Change(f, getattr(old[key], f), getattr(rule, f)) for f in RULE_FIELDS
                            if getattr(old[key], f) != getattr(rule, f))
            if changes:
                changed.append(RuleChange(rule, changes))
    settings = _flat_changes(asdict(before.settings) if before else {}, asdict(after.settings))
    return RuleDiff(added=tuple(r for k, r in new.items() if k not in old),
                    removed=tuple(r for k, r in old.items() if k not in new),
                    changed=tuple(changed), settings=settings)


def _flat(values: dict, prefix: str = "") -> dict:
    flat = {}
    for name, value in values.items():
        if isinstance(value, dict) and name != "caps":
            flat.update(_flat(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _flat_changes(before: dict, after: dict) -> tuple[Change, ...]:
    if not before:
        return ()
    old, new = _flat(before), _flat(after)
    return tuple(Change(name, old.get(name), new.get(name)) for name in new if old.get(name) != new.get(name))


__all__ = ["Change", "RuleChange", "RuleDiff", "RULE_FIELDS", "diff"]
