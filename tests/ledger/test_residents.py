"""The one check of the residents a request names: each once, each the bank's, each active."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from cards import services as cards
from foundation import applications
from ground.errors import ValidationError
from ledger import people
from ledger.residents import check_residents, named_residents, resident_problems
from redemption import services as desk

FOUND = {1: SimpleNamespace(id=1, active=True), 2: SimpleNamespace(id=2, active=True),
         3: SimpleNamespace(id=3, active=False)}


@pytest.fixture
def bank(make):
    return make.bank()


def test_the_residents_named_come_back_in_the_order_named():
    assert [r.id for r in check_residents([2, 1], FOUND)] == [2, 1]
    assert check_residents([], FOUND) == []


@pytest.mark.parametrize("ids, problems", [
    ([1, 2, 1], ["同一居民不能重复出现"]),
    ([1, 9], ["居民 9 不存在"]),
    ([3, 1], ["居民 3 已停用"]),
    ([3, 9, 8], ["居民 9 不存在", "居民 8 不存在", "居民 3 已停用"]),
    ([9, 9, 3], ["同一居民不能重复出现"]),  # a repeat is refused on its own, before the rest
])
def test_each_refusal_names_what_is_wrong(ids, problems):
    assert resident_problems(ids, FOUND) == problems
    with pytest.raises(ValidationError) as refused:
        check_residents(ids, FOUND, field="members")
    assert refused.value.fields == {"members": problems}


def test_where_unknown_and_inactive_must_read_alike_one_message_says_both():
    assert resident_problems([9, 3, 1], FOUND, say_which=False) == ["居民 9 不存在或已停用", "居民 3 不存在或已停用"]


def test_a_repeat_may_stand_for_one_resident_where_the_caller_allows_it():
    assert resident_problems([1, 2, 1], FOUND, repeats=True) == []
    assert [r.id for r in check_residents([1, 2, 1], FOUND, repeats=True)] == [1, 2]


def test_another_banks_resident_reads_exactly_like_an_unknown_one(make, bank, session, clock):
    other = make.bank(code="xq", name="新桥村综治银行")
    ours, theirs = make.resident(bank, "张三"), make.resident(other, "李四")
    gone = make.resident(bank, "王五")
    people.set_resident_active(session, bank, gone.id, False, reason="迁出", by="clerk", clock=clock)
    assert named_residents(session, bank, [ours.id]) == [ours]
    assert named_residents(session, bank, []) == []
    with pytest.raises(ValidationError) as refused:
        named_residents(session, bank, [theirs.id, gone.id, ours.id], field="donors")
    assert refused.value.fields == {"donors": [f"居民 {theirs.id} 不存在", f"居民 {gone.id} 已停用"]}


def test_every_service_that_names_residents_refuses_with_the_same_words(make, bank, session, clock):
    zhang = make.resident(bank, "张三")
    unknown = zhang.id + 1000
    with pytest.raises(ValidationError) as deed:
        make.deed(bank, "cleanup", [zhang, zhang])
    assert deed.value.fields == {"residents": ["同一居民不能重复出现"]}
    with pytest.raises(ValidationError) as applicant:
        applications.create_applicant(session, bank, kind="group", name="巡逻队", phone=None,
                                      members=[zhang.id, unknown], by="clerk", clock=clock)
    assert applicant.value.fields == {"members": [f"居民 {unknown} 不存在"]}
    with pytest.raises(ValidationError) as sheet:
        cards.issue_cards(session, bank, resident_ids=[unknown, zhang.id, zhang.id], by="clerk", clock=clock)
    assert sheet.value.fields == {"residents": [f"居民 {unknown} 不存在或已停用"]}
    with pytest.raises(ValidationError) as redemption:
        desk.redeem(session, bank, resident_id=unknown, items=[("rice", 1)], by="desk", clock=clock)
    assert redemption.value.fields == {"resident": [f"居民 {unknown} 不存在或已停用"]}
