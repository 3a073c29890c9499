"""The monthly notice: a frozen snapshot that prints the same twice, with every name's real glyphs."""
import subprocess
from datetime import date

import pytest

from reports import paper, services

from .helpers import RARE_NAMES, at, deed, pdf_text


def test_notice_rows_rank_ties_alike_and_follow_each_rules_visibility(session, september, clock):
    bank, people, zhang = september
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    notice = services.content_of(snapshot)
    rows = {r["name"]: r for r in notice["residents"]}
    assert rows["张三"]["rank"] == 1                                       # 10 - 5
    assert [rows[n]["rank"] for n in RARE_NAMES[:3]] == [2, 2, 2]          # 4 points each: a tie
    assert [r["name"] for r in notice["residents"][1:4]] == list(RARE_NAMES[:3])  # listed by id
    assert rows["李𬌗"]["rank"] == 5
    assert rows["王䶮"]["details"] == [{"rule": "夜间巡逻", "points": 4}]
    # mediation is category_only: in its category, never itemised
    assert rows["张三"]["categories"]["矛盾纠纷调解"] == 10
    assert rows["张三"]["details"] == [{"rule": "乱扔垃圾", "points": -5}]
    assert rows["张三"]["penalties"] == -5 and rows["张三"]["net"] == 5
    assert rows["张三"]["balance"] == 5   # at the month's end: October's patrol not yet
    homes = {h["code"]: h for h in notice["households"]}
    assert homes["H001"]["net"] == 8 and homes["H002"]["net"] == 4 + 3 + 5
    assert notice["head"]["seq"] == snapshot.head_seq


def test_hidden_rules_count_only_in_the_net():
    from reports.notice import Home, Movement, Person, build_notice
    from rules import Rule

    hidden = Rule("gambling", "赌博", "法治建设", -20, "次", notice="hidden")
    shown = Rule("patrol", "夜间巡逻", "社会治安", 2, "小时")
    rules = {"gambling": hidden, "patrol": shown}
    built = build_notice(residents=[Person(1, "甲", 1)], households=[Home(1, "H1", "")],
                         movements=[Movement(1, "gambling", 1, -20), Movement(1, "patrol", 1, 6)],
                         rule_of=lambda code, v, on: rules[code], categories=("法治建设", "社会治安"),
                         balances={"resident:1": -14}, account_unit="person", on=date(2026, 9, 30))
    [row] = built["residents"]
    assert row["net"] == -14 and row["penalties"] == 0
    assert row["categories"] == {"法治建设": 0, "社会治安": 6}
    assert row["details"] == [{"rule": "夜间巡逻", "points": 6}]


def test_publishing_again_returns_the_first_snapshot_unchanged(session, september, clock):
    bank, people, _ = september
    first = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    deed(session, bank, "cleanup", [people[0]], date(2026, 9, 20), clock)  # late entry, still open
    again = services.publish_notice(session, bank, "2026-09", by="cycle", clock=at(2026, 10, 16))
    assert (again.id, again.content_hash, again.content) == (first.id, first.content_hash, first.content)


def test_a_month_not_over_has_no_notice(session, make, clock):
    bank = make.bank()
    with pytest.raises(Exception) as refused:
        services.publish_notice(session, bank, "2026-10", by="cycle", clock=clock)
    assert refused.value.code == "period_not_over"
    assert services.get_snapshot(session, bank.id, "notice", "2026-10") is None


def test_notice_pdf_embeds_cjk_fonts_and_prints_every_rare_name(session, september, clock, tmp_path,
                                                                 app_context):
    bank, _, _ = september
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    content = services.content_of(snapshot)
    data = paper.notice_pdf(content, snapshot.content_hash, qr_url="http://x/n/hp/2026-09/abc", tz=clock.tz)
    text, fonts = pdf_text(data, tmp_path)
    for name in RARE_NAMES:
        assert name in text
    lines = [line.split() for line in fonts.splitlines()[2:]]
    assert lines and all(cols[-5] == "yes" for cols in lines)          # every font embedded
    assert any("CJK" in cols[0] for cols in lines)
    assert "第1页/共1页" in text.replace(" ", "")
    assert snapshot.content_hash in text and content["head"]["hash"] in text
    assert "理事会" in text and "监事" in text and "异议截止" in text
    # printing twice prints the same
    assert paper.notice_pdf(content, snapshot.content_hash, qr_url="http://x/n/hp/2026-09/abc",
                            tz=clock.tz) == data


def test_notice_pdf_qr_opens_the_online_notice(session, september, make, client, clock, tmp_path):
    bank, _, _ = september
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    answer = client.get("/api/v1/banks/hp/notices/2026-09.pdf", headers=make.token(bank, "supervisor"))
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    (tmp_path / "n.pdf").write_bytes(answer.data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(tmp_path / "n.pdf"), str(tmp_path / "page")], check=True)
    page = sorted(tmp_path.glob("page*.png"))[-1]
    decoded = subprocess.run(["zbarimg", "-q", "--raw", str(page)], capture_output=True, text=True).stdout.strip()
    assert decoded.endswith(f"/n/hp/2026-09/{snapshot.content_hash[:16]}")
    public = client.get(decoded.replace("http://localhost", ""))
    assert public.status_code == 200 and "吉𠮷" in public.get_data(as_text=True)
    assert client.get(f"/n/hp/2026-09/{'0' * 16}").status_code == 404


def test_notice_api_answers_json_and_walls_banks(session, september, make, client, clock):
    bank, _, _ = september
    services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    answer = client.get("/api/v1/banks/hp/notices/2026-09", headers=make.token(bank, "clerk"))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["month"] == "2026-09" and len(body["snapshot_hash"]) == 64 and body["sealed"] is None
    other = make.bank(code="xz", name="新庄村综治银行")
    assert client.get("/api/v1/banks/hp/notices/2026-09", headers=make.token(other, "clerk")).status_code == 404
    assert client.get("/api/v1/banks/hp/notices/2026-08", headers=make.token(bank, "clerk")).status_code == 404
    bad = client.get("/api/v1/banks/hp/notices/2026-13", headers=make.token(bank, "clerk"))
    assert bad.status_code == 422 and "month" in bad.get_json()["fields"]


def test_notice_rows_print_as_aligned_lines_unless_a_value_may_not_fit(tmp_path, app_context):
    from .helpers import TZ

    row = {"id": 1, "rank": 1, "name": "吉𠮷", "household": "H001", "details": [], "penalties": -5,
           "net": 5, "balance": None, "categories": {"社会治安": 10, "环境卫生": 0}}
    long_name = {**row, "id": 2, "rank": 2, "name": "阿卜杜·热合曼"}
    home = {"id": 1, "rank": 1, "code": "H001", "name": "王家", "members": 2, "penalties": -5, "net": 5,
            "balance": 5, "categories": {"社会治安": 10, "环境卫生": 0}}
    content = {"bank": {"code": "hp", "name": "黄坡村综治银行"}, "month": "2026-09",
               "published_at": "2026-10-01T00:00:00+00:00", "objection_deadline": "2026-10-08T08:00+08:00",
               "objection_days": 7, "how_to_object": "请到记分员处提出异议。", "account_unit": "household",
               "categories": ["社会治安", "环境卫生"], "head": {"seq": 1, "hash": "ab" * 32},
               "residents": [row, long_name], "households": [home],
               "totals": {"residents": 2, "households": 1, "earned": 20, "penalties": -10, "net": 10,
                          "categories": {"社会治安": 20, "环境卫生": 0}}}
    view = paper.notice_paper_view(content, TZ)
    first, second = view["residents"]
    # whole columns of half-width cells, each as wide as its heading on one line or its widest
    # value: rank 6 (排名), name 16 (the long name, taken at two cells a character), household 6,
    # each 4-character heading 9, 扣分 6
    assert first["line"] == (" 1    " + " 吉𠮷" + " " * 11 + " H001 " + "      10 " + " " * 9
                             + "   -5 " + "       5 " + "      — ")
    assert view["columns"] == [f"{cells * paper.CELL_PT:g}pt" for cells in (6, 16, 6, 9, 9, 6, 9, 9)]
    assert second["line"] is None                        # "·" is of no sure width: printed cell by cell
    assert view["households"][0]["line"].split() == ["1", "H001", "王家", "2", "10", "-5", "5"]
    data = paper.notice_pdf(content, "cd" * 32, qr_url=None, tz=TZ)
    text, _ = pdf_text(data, tmp_path)
    assert "吉𠮷" in text and "阿卜杜·热合曼" in text
    assert paper.notice_pdf(content, "cd" * 32, qr_url=None, tz=TZ) == data


def test_an_entry_logged_into_a_month_after_its_notice_is_listed_on_the_next_notice(
        session, september, client, tmp_path):
    bank, people, zhang = september
    sept = services.publish_notice(session, bank, "2026-09", by="cycle", clock=at(2026, 10, 1, 9))
    window = at(2026, 10, 3)                                  # September is open until its seal
    late = deed(session, bank, "cleanup", [people[0]], date(2026, 9, 20), window).transfers[0]
    fine = deed(session, bank, "litter", [people[1]], date(2026, 9, 21), window).transfers[0]
    deed(session, bank, "cleanup", [people[2]], date(2026, 10, 20), at(2026, 10, 25))   # October's own
    october = services.content_of(services.publish_notice(session, bank, "2026-10", by="cycle",
                                                          clock=at(2026, 11, 1, 9)))
    assert [(e["seq"], e["name"], e["household"], e["occurred_on"], e["what"], e["penalty"], e["points"])
            for e in october["late"]] == [
        (late.seq, people[0].name, "H001", "2026-09-20", "环境整治", False, 3),
        (fine.seq, people[1].name, "H001", "2026-09-21", "乱扔垃圾", True, -5)]
    # The paper and the screen list them under their own heading, dated and signed.
    snapshot = services.get_snapshot(session, bank.id, "notice", "2026-10")
    with client.application.app_context():
        printed, _fonts = pdf_text(paper.notice_pdf(october, snapshot.content_hash, qr_url=None, tz=window.tz),
                                   tmp_path)
    assert "补登与更正" in printed and "2026年9月20日" in printed and "乱扔垃圾" in printed and "-5" in printed
    page = client.get(f"/n/hp/2026-10/{snapshot.content_hash[:16]}").get_data(as_text=True)
    assert "补登与更正" in page and "2026年9月21日" in page and "-5" in page
    # October's own entries are on its rows, not listed as late; September's notice is as it was.
    assert sum(r["net"] for r in october["residents"]) == 2 * 1 + 3   # zhang's patrol, the cleanup
    assert "late" not in services.content_of(sept)
    # The next notice lists nothing of them again.
    november = services.content_of(services.publish_notice(session, bank, "2026-11", by="cycle",
                                                           clock=at(2026, 12, 1, 9)))
    assert "late" not in november


def test_the_quarters_summary_the_cycle_freezes_can_be_read_and_printed(session, september, client, make, tmp_path):
    bank, people, zhang = september
    services.publish_notice(session, bank, "2026-09", by="cycle", clock=at(2026, 10, 1, 9))
    frozen = services.summarize_quarter(session, bank, "2026-Q4", by="cycle", clock=at(2026, 10, 2))
    session.commit()
    reader = make.token(bank, "supervisor")
    answer = client.get("/api/v1/banks/hp/quarters/2026-Q4", headers=reader)
    assert answer.status_code == 200 and answer.get_json()["snapshot_hash"] == frozen.content_hash
    summary = answer.get_json()
    assert summary["months"] == ["2026-07", "2026-08", "2026-09"]   # the quarter before its window
    assert {r["name"] for r in summary["residents"]} >= {people[0].name, zhang.name}
    printed = client.get("/api/v1/banks/hp/quarters/2026-Q4.pdf", headers=reader)
    assert printed.status_code == 200 and printed.mimetype == "application/pdf"
    text, fonts = pdf_text(printed.data, tmp_path)
    assert "季度汇总" in text and "2026年第四季度" in text and zhang.name in text and "2026年9月" in text
    assert client.get("/api/v1/banks/hp/quarters/2026-Q3", headers=reader).status_code == 404
    assert client.get("/api/v1/banks/hp/quarters/2026-Q5", headers=reader).status_code == 422
