"""The reports speak plain Chinese: months and labels in words, no codes or English on the paper."""
from __future__ import annotations

from reports import paper, services

from .helpers import at, pdf_text


def test_a_missing_notice_is_named_by_its_month_in_words(client, make):
    bank = make.bank()
    answer = client.get("/api/v1/banks/hp/notices/2026-11", headers=make.token(bank, "clerk"))
    assert answer.status_code == 404
    assert answer.get_json()["message"] == "找不到 2026年11月 的公示"


def test_the_notice_labels_its_chain_head_and_hash_in_chinese(session, september, clock, tmp_path,
                                                               app_context):
    bank, _, _ = september
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    data = paper.notice_pdf(services.content_of(snapshot), snapshot.content_hash, qr_url=None, tz=clock.tz)
    text, _ = pdf_text(data, tmp_path)
    assert "账本链头：" in text and "公示快照哈希：" in text
    assert "chain head" not in text and "snapshot hash" not in text


def test_the_notice_gives_its_dates_as_people_write_them(session, september, tmp_path):
    bank, _, _ = september
    snapshot = services.publish_notice(session, bank, "2026-10", by="cycle", clock=at(2026, 11, 3, 9, 0))
    view = paper.notice_view(services.content_of(snapshot), at(2026, 11, 3).tz)
    assert view["published_local"] == "2026年11月3日 09:00"          # not 2026年11月03日
