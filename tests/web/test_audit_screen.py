"""The audit screen tells each entry as a Chinese sentence, its details laid out, no codes or JSON."""
from __future__ import annotations

import re

from ground import audit


def _text(answer) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True)))


def test_audit_entries_read_as_sentences_with_names_not_codes(make, session, clock, signed_in):
    bank = make.bank()
    li = make.resident(bank, "李四")
    make.deed(bank, "litter", [li])
    audit.record(session, bank_id=bank.id, actor="zhao", action="application_award", subject="application:3",
                 detail={"from": "in_review", "to": "awarded"}, clock=clock)
    audit.record(session, bank_id=bank.id, actor="zhao", action="wish_publish", subject="wish:2", clock=clock)
    session.commit()
    page = _text(signed_in(make.user(bank, "supervisor", name="zhao")).get("/banks/hp/audit"))
    assert "test 扣分：规则「乱扔垃圾」" in page
    assert "居民 李四" in page and "积分 -5" in page and "发生日期 2026年10月15日" in page
    assert "zhao 资助微项目申请：微项目申请 #3" in page and "原状态 评审中 新状态 已资助" in page
    assert "zhao 发布微心愿：微心愿 #2" in page
    for code in ("application_award", "wish_publish", "rule:litter", '{"', "residents"):
        assert code not in page, code


def test_an_unknown_action_still_shows_as_its_code(make, session, clock, signed_in):
    bank = make.bank()
    audit.record(session, bank_id=bank.id, actor="zhao", action="something_new", subject="thing:1",
                 detail={"odd": 1}, clock=clock)
    session.commit()
    page = _text(signed_in(make.user(bank, "supervisor", name="zhao")).get("/banks/hp/audit"))
    assert "zhao something_new：thing:1" in page and "odd 1" in page
