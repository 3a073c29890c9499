"""What changed between two rule versions, field by field (pure: no app, no database)."""
from __future__ import annotations

import rules as rulefiles
from rules.diff import Change, diff
from tests.conftest import RULES


def test_a_changed_points_value_and_cap_are_named_field_by_field():
    before = rulefiles.parse(RULES)
    after = rulefiles.parse(RULES.replace("points: 2\n", "points: 3\n").replace("{day: 8, month: 60}", "{day: 8}"))
    changes = diff(before, after)
    assert not changes.added and not changes.removed and not changes.settings
    [patrol] = changes.changed
    assert patrol.rule.code == "patrol"
    assert patrol.changes == (Change("points", 2, 3), Change("caps", {"day": 8, "month": 60}, {"day": 8}))


def test_rules_added_and_removed_and_a_setting_changed():
    before = rulefiles.parse(RULES)
    text = RULES.replace("account_unit: person", "account_unit: household").replace("code: litter", "code: dumping")
    changes = diff(before, rulefiles.parse(text))
    assert [r.code for r in changes.added] == ["dumping"]
    assert [r.code for r in changes.removed] == ["litter"]
    assert changes.settings == (Change("account_unit", "person", "household"),)
    assert not changes.changed and not changes.empty


def test_the_same_file_has_no_changes_and_a_first_version_is_all_new():
    book = rulefiles.parse(RULES)
    assert diff(book, book).empty
    first = diff(None, book)
    assert len(first.added) == 4 and not first.settings and not first.removed
