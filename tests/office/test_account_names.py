"""A transfer's accounts are named as people say them: 和平村综治银行 → 王大, not issued → resident:61."""
from __future__ import annotations

import re

from ledger import formatting

from .conftest import text


def test_a_deeds_page_names_the_bank_and_the_resident_not_account_codes(clerk, village, make):
    deed = make.deed(village["bank"], "cleanup", [village["people"]["王大"]]).transfers[0]
    page = re.sub(r"<[^>]+>", "", text(clerk.get(f"/banks/hp/transfers/{deed.id}")))
    assert f"{village['bank'].name} → 王大" in page
    assert "issued" not in page and "resident:" not in page


def test_a_reversal_shows_both_entries_accounts_by_name(clerk, village, make):
    deed = make.deed(village["bank"], "cleanup", [village["people"]["王大"]]).transfers[0]
    assert clerk.post(f"/banks/hp/transfers/{deed.id}", data={"reason": "记错了人", "idem": "r1"}).status_code == 302
    page = re.sub(r"<[^>]+>", "", text(clerk.get(f"/banks/hp/transfers/{deed.id}")))
    assert f"王大 → {village['bank'].name}" in page and f"{village['bank'].name} → 王大" in page


def test_the_spoken_names_of_accounts_come_from_one_table():
    assert formatting.account_name("issued", "积分发放", "和平村综治银行") == "和平村综治银行"
    assert formatting.account_name("redeemed", "积分兑换", "和平村综治银行") == "积分超市"
    assert formatting.account_name("resident:61", "张三", "和平村综治银行") == "张三"
    assert formatting.account_name("source:town", "镇投入", "和平村综治银行") == "镇投入"
