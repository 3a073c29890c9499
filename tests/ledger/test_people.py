"""Residents and households: register, correct, deactivate, move, and find by pinyin."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger import banks, deeds, people, reading
from ground.audit import AuditEntry
from ground.errors import ConflictError, ValidationError
from ledger.models import Resident, Transfer


@pytest.fixture
def bank(make):
    return make.bank()


def _ids(found):
    return [r.name for r in found]


def test_residents_are_found_by_name_full_pinyin_initials_and_surname_reading(make, bank, session):
    home = make.household(bank)
    for name in ("张三", "曾国藩", "单田芳", "仇英", "王五"):
        make.resident(bank, name, home)
    search = lambda q: _ids(people.search_residents(session, bank, q, limit=50, after=None))
    assert search("张三") == ["张三"]
    assert search("zhangsan") == ["张三"]
    assert search("ZS") == ["张三"]
    assert search("zeng") == ["曾国藩"] and search("zgf") == ["曾国藩"]
    assert search("shantianfang") == ["单田芳"]
    assert search("qiuying") == ["仇英"]
    assert search("zhang san") == ["张三"]  # spaces typed between syllables do not matter
    assert search("%") == [] and search("_") == []  # LIKE wildcards are searched for literally


def test_rare_characters_are_stored_shown_and_searched_intact(make, bank, session):
    home = make.household(bank)
    names = ["王䶮", "𠮷野", "李𪚥", "张𬌗"]
    for name in names:
        make.resident(bank, name, home)
    session.expire_all()
    stored = session.execute(select(Resident.name).order_by(Resident.id)).scalars().all()
    assert stored == names
    assert _ids(people.search_residents(session, bank, "𠮷", limit=50, after=None)) == ["𠮷野"]
    assert _ids(people.search_residents(session, bank, "lizhe", limit=50, after=None)) == ["李𪚥"]
    assert _ids(people.search_residents(session, bank, "wangyan", limit=50, after=None)) == ["王䶮"]


def test_a_clerk_records_a_reading_pypinyin_does_not_know_and_search_uses_it(make, bank, session, clock):
    resident = make.resident(bank, "𠮷野")
    assert people.search_residents(session, bank, "jiye", limit=5, after=None) == []
    people.update_resident(session, bank, resident.id, name="𠮷野", phone=None, relation="户主",
                           reading="ji ye", by="clerk", clock=clock)
    assert _ids(people.search_residents(session, bank, "jiye", limit=5, after=None)) == ["𠮷野"]
    assert _ids(people.search_residents(session, bank, "jy", limit=5, after=None)) == ["𠮷野"]


@pytest.mark.parametrize("fields, field, why", [
    ({"name": " "}, "name", "姓名不能为空"),
    ({"name": "张" * 51}, "name", "最长 50"),
    ({"name": "<script>"}, "name", "符号"),
    ({"phone": "1381234567"}, "phone", "有 10 位数字"),
    ({"phone": "1381234567a"}, "phone", "只能包含数字"),
    ({"phone": "23812345678"}, "phone", "应以 1"),
    ({"relation": "老板"}, "relation", "与户主关系须为"),
    ({"reading": "zhang"}, "reading", "须有 2 个音节"),
])
def test_a_bad_resident_is_refused_field_by_field_and_nothing_is_written(make, bank, session, clock,
                                                                          fields, field, why):
    home = make.household(bank)
    values = {"name": "张三", "phone": None, "relation": None, "reading": None, **fields}
    with pytest.raises(ValidationError) as refused:
        people.create_resident(session, bank, household=home.code, clock=clock, **values)
    assert why in " ".join(refused.value.field_texts()[field])
    assert session.execute(select(func.count()).select_from(Resident)).scalar() == 0


def test_phones_are_stored_as_digits(make, bank):
    assert make.resident(bank, phone="+86 138-1234-5678").phone == "13812345678"
    assert make.resident(bank, name="李四", phone="0795-8123456").phone == "07958123456"


def test_a_deactivated_resident_keeps_their_history_and_receives_no_new_deeds(make, bank, session, clock):
    resident = make.resident(bank, "王大")
    make.deed(bank, "cleanup", [resident])
    with pytest.raises(ValidationError):
        people.set_resident_active(session, bank, resident.id, False, reason=" ", by="clerk", clock=clock)
    people.set_resident_active(session, bank, resident.id, False, reason="迁出本村", by="clerk", clock=clock)
    with pytest.raises(ValidationError) as refused:
        make.deed(bank, "cleanup", [resident])
    assert "已停用" in refused.value.fields["residents"][0]
    assert session.execute(select(func.count()).select_from(Transfer)).scalar() == 1
    assert people.get_resident(session, bank, resident.id).active is False
    actions = session.execute(select(AuditEntry.action).where(
        AuditEntry.subject == f"resident:{resident.id}")).scalars().all()
    assert "resident_deactivate" in actions


def test_moving_a_resident_keeps_their_transfers_and_records_the_move(make, bank, session, clock):
    east, west = make.household(bank, "E01"), make.household(bank, "W01")
    resident = make.resident(bank, "王大", east)
    make.deed(bank, "cleanup", [resident])
    people.move_resident(session, bank, resident.id, household="W01", reason="婚迁", by="clerk", clock=clock)
    moved = people.get_resident(session, bank, resident.id)
    assert moved.household_id == west.id
    [(move, source, target)] = people.resident_moves(session, bank, moved)
    assert (source, target, move.reason, move.moved_by) == ("E01", "W01", "婚迁", "clerk")
    assert [t.doer_id for t in reading.resident_history(session, bank, moved)] == [resident.id]
    with pytest.raises(ValidationError):
        people.move_resident(session, bank, resident.id, household="W01", reason=None, by="c", clock=clock)
    with pytest.raises(ValidationError):
        people.move_resident(session, bank, resident.id, household="NOPE", reason=None, by="c", clock=clock)


def test_a_household_with_active_members_cannot_be_deactivated(make, bank, session, clock):
    home = make.household(bank, "E01")
    resident = make.resident(bank, "王大", home)
    with pytest.raises(ConflictError) as refused:
        people.update_household(session, bank, home.id, name="王家", active=False, by="c", clock=clock)
    assert refused.value.code == "household_not_empty"
    people.set_resident_active(session, bank, resident.id, False, reason="去世", by="c", clock=clock)
    assert people.update_household(session, bank, home.id, name="王家", active=False, by="c",
                                   clock=clock).active is False
    with pytest.raises(ValidationError):
        make.resident(bank, "王小", home)


def test_the_remaining_allowance_is_the_least_any_team_member_has_left(make, bank, session, clock):
    _, book = banks.rulebook(session, bank.id)
    first, second = make.resident(bank, "王大"), make.resident(bank, "王二")
    make.deed(bank, "patrol", [first], quantity=3)  # 6 of the day's 8
    left = deeds.remaining_allowances(session, bank, [first.id, second.id], book.rules, clock.today())
    assert left == {"patrol": 2, "mediation": 30}
