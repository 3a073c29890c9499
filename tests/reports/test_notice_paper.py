"""The printed notice as a notice board needs it: every page says whose and which month it is,
headings and details never break inside a word, and no two rows read alike."""
import json
import re
import subprocess
from datetime import date

from ledger.chain import canonical_json
from ledger.verify import verify_bank
from reports import paper, services
from reports.models import Snapshot
from reports.notice import Home, Movement, Person, build_notice, tell_apart

from ..conftest import RULES
from .helpers import at, deed

#: The shared rules, and rules whose long names make a resident's details fill several lines.
MANY_RULES = RULES + """\
  - code: study
    name: 参加普法学习讲座
    category: 法治建设
    points: 2
    unit: 次
  - code: volunteer
    name: 志愿服务活动
    category: 道德文化
    points: 4
    unit: 次
  - code: sorting
    name: 垃圾分类投放
    category: 环境卫生
    points: 1
    unit: 次
  - code: doorstep
    name: 门前三包检查
    category: 环境卫生
    points: 2
    unit: 次
"""


def _pages(data: bytes, tmp_path, *, layout: bool = False) -> list[str]:
    """Each page's text, as pdftotext reads it (`-layout`: lines as printed)."""
    path = tmp_path / "notice.pdf"
    path.write_bytes(data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return [subprocess.run(["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []),
                            "-f", str(n), "-l", str(n), str(path), "-"],
                           capture_output=True, text=True, check=True).stdout
            for n in range(1, count + 1)]


def _pdf(snapshot, clock, lines: bool = True) -> bytes:
    content = services.content_of(snapshot)
    if lines:
        return paper.notice_pdf(content, snapshot.content_hash, qr_url="http://x/n/hp/2026-09/k", tz=clock.tz)
    html = paper.notice_html(content, snapshot.content_hash, qr_url=None, tz=clock.tz, lines=False)
    return paper.to_pdf(html, paper.NOTICE_CSS)


# --- every page names its bank, its month and its number ---------------------------------------

def test_every_page_of_a_long_notice_names_the_bank_the_month_and_its_page(
        session, make, clock, tmp_path, app_context):
    bank = make.bank()
    homes = [make.household(bank, code=f"H{n:03d}") for n in range(1, 14)]
    people = [make.resident(bank, name=f"王{n:03d}", household=homes[n % len(homes)]) for n in range(130)]
    deed(session, bank, "patrol", people[:40], date(2026, 9, 5), clock)
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    pages = _pages(_pdf(snapshot, clock), tmp_path)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "和平村综治银行" in text and "2026年9月" in text, f"page {number}"
        assert f"第{number}页/共{len(pages)}页" in text.replace(" ", ""), f"page {number}"
    assert pages[1].lstrip().startswith("和平村综治银行 2026年9月 积分公示")   # at the page's head


def test_every_page_of_a_long_day_register_names_the_bank_and_the_day(
        session, make, clock, client, tmp_path):
    bank = make.bank()
    people = [make.resident(bank, name=f"李{n:03d}") for n in range(80)]
    deed(session, bank, "patrol", people, date(2026, 10, 14), at(2026, 10, 14, 20))
    answer = client.get("/api/v1/banks/hp/registers/2026-10-14.pdf", headers=make.token(bank, "clerk"))
    assert answer.status_code == 200
    pages = _pages(answer.data, tmp_path)
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert "和平村综治银行" in text and "2026年10月14日" in text, f"page {number}"
        assert f"第{number}页/共{len(pages)}页" in text.replace(" ", ""), f"page {number}"


# --- headings and details do not break inside a word ---------------------------------------

def test_category_and_total_headings_print_whole_on_one_line(session, make, clock, tmp_path, app_context):
    bank = make.bank()
    zhang = make.resident(bank, name="张三")
    deed(session, bank, "patrol", [zhang], date(2026, 9, 5), clock)
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    categories = services.content_of(snapshot)["categories"]
    assert "社会治安" in categories and "矛盾纠纷调解" in categories
    for lines in (True, False):   # the rows as lines of text, and cell by cell
        [page] = _pages(_pdf(snapshot, clock, lines), tmp_path, layout=True)
        rows = page.splitlines()
        for heading in [*categories, "本月合计", "累计积分", "扣分", "户号"]:
            assert any(heading in row for row in rows), heading
        # both tables' heading rows: every heading on the one line
        headings = [row for row in rows if "社会治安" in row]
        assert len(headings) == 2 and all(all(c in row for c in categories) for row in headings)


def test_a_rule_and_its_points_stay_on_one_line_in_the_details(session, make, clock, tmp_path, app_context):
    bank = make.bank(rules=MANY_RULES)
    busy = make.resident(bank, name="张三")
    for rule in ("patrol", "cleanup", "litter", "study", "volunteer", "sorting", "doorstep"):
        deed(session, bank, rule, [busy], date(2026, 9, 5), clock)
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    [row] = services.content_of(snapshot)["residents"]
    items = [f"{d['rule']} {d['points']}" for d in row["details"]]
    assert len(items) == 7
    [page] = _pages(_pdf(snapshot, clock), tmp_path, layout=True)
    lines = page.splitlines()
    for item in items:
        assert any(item in line for line in lines), item
    # the details did fold over several lines, between items
    assert len({i for i, line in enumerate(lines) for d in row["details"] if d["rule"] in line}) >= 2


# --- rows that would read alike are told apart ---------------------------------------------

def test_two_residents_of_one_household_with_one_name_get_rows_that_differ(
        session, make, clock, client, tmp_path, app_context):
    bank = make.bank()
    home = make.household(bank, code="001", name="黄家")
    elder = make.resident(bank, name="黄细伢", household=home)
    make.resident(bank, name="王芳", household=home)
    younger = make.resident(bank, name="黄细伢", household=home)
    elsewhere = make.resident(bank, name="黄细伢")                     # another household: its code tells
    deed(session, bank, "patrol", [elder], date(2026, 9, 5), clock)
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    rows = {r["id"]: r for r in services.content_of(snapshot)["residents"]}
    assert rows[elder.id]["mark"] == {"order": 1} and rows[younger.id]["mark"] == {"order": 2}
    assert all("mark" not in r for i, r in rows.items() if i not in (elder.id, younger.id))
    assert elsewhere.id in rows

    text = "\n".join(_pages(_pdf(snapshot, clock), tmp_path, layout=True))
    printed = [line.split() for line in text.splitlines() if "黄细伢" in line and " 001 " in f" {line} "]
    assert len(printed) == 2 and printed[0] != printed[1]
    assert "黄细伢（1）" in text and "黄细伢（2）" in text
    assert "同户同名的居民" in text
    page = client.get(f"/n/hp/2026-09/{snapshot.content_hash[:16]}").get_data(as_text=True)
    assert "黄细伢（1）" in page and "黄细伢（2）" in page


def test_residents_alike_are_told_apart_by_relation_when_it_differs_else_by_registration():
    homes = {1: Home(1, "001", "黄家"), 2: Home(2, "002", "李家")}
    head, son = Person(5, "黄细伢", 1, relation="户主"), Person(9, "黄细伢", 1, relation="子")
    assert tell_apart([son, head], homes) == {0: {"relation": "子"}, 1: {"relation": "户主"}}
    twins = [Person(7, "李明", 2, relation="子"), Person(3, "李明", 2, relation="子"), Person(4, "李明", 2)]
    assert tell_apart(twins, homes) == {0: {"order": 3}, 1: {"order": 1}, 2: {"order": 2}}
    assert tell_apart([Person(1, "王芳", 1), Person(2, "王芳", 2), Person(3, "张三", 1)], homes) == {}
    built = build_notice(residents=[head, son], households=list(homes.values()),
                         movements=[Movement(5, "patrol", 1, 4)], rule_of=lambda *a: None,
                         categories=("社会治安",), balances={}, account_unit="person", on=date(2026, 9, 30))
    assert [r.get("mark") for r in built["residents"]] == [{"relation": "户主"}, {"relation": "子"}]


def test_a_notice_frozen_before_marks_prints_as_frozen_and_keeps_its_hash(
        session, make, clock, client, tmp_path, app_context):
    bank = make.bank()
    home = make.household(bank, code="001")
    twins = [make.resident(bank, name="黄细伢", household=home) for _ in range(2)]
    deed(session, bank, "patrol", twins[:1], date(2026, 8, 5), at(2026, 8, 5, 20))
    deed(session, bank, "patrol", twins[:1], date(2026, 9, 5), at(2026, 9, 5, 20))
    # August's notice as it was frozen before rows carried marks: its content has none
    fresh = services.publish_notice(session, bank, "2026-08", by="cycle", clock=at(2026, 9, 3))
    old = services.content_of(fresh)
    old["residents"] = [{k: v for k, v in r.items() if k != "mark"} for r in old["residents"]]
    text = canonical_json(old)
    session.query(Snapshot).filter_by(id=fresh.id).update(
        {"content": text, "content_hash": services.content_hash(text)})
    session.commit()
    august = services.get_snapshot(session, bank.id, "notice", "2026-08")
    september = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)

    # freezing again changes nothing; the hash still covers the content as stored
    again = services.publish_notice(session, bank, "2026-08", by="cycle", clock=clock)
    assert (again.content, again.content_hash) == (text, services.content_hash(text))
    assert all("mark" not in r for r in json.loads(again.content)["residents"])
    assert verify_bank(session, bank).ok
    # the old notice prints as frozen, its rows unmarked; the new one marks its rows
    headers = make.token(bank, "supervisor")
    old_pdf = client.get("/api/v1/banks/hp/notices/2026-08.pdf", headers=headers)
    assert old_pdf.status_code == 200
    old_text = "".join(_pages(old_pdf.data, tmp_path))
    assert "黄细伢（" not in old_text and "同户同名" not in old_text
    assert august.content_hash in old_text
    new_text = "".join(_pages(_pdf(september, clock), tmp_path))
    assert "黄细伢（1）" in new_text and "黄细伢（2）" in new_text


# --- long values fold in their own cells; headings stay whole in both languages ------------

#: What the roster allows at its longest: a 40-character code, a 100-character household name,
#: a 50-character resident name.
LONG_CODE = "H" + "9" * 39
LONG_HOME = ("阿依古丽·买买提艾力·库尔班江·热合曼家" * 3)[:100]
LONG_NAME = ("阿依古丽·买买提艾力·库尔班江·热合曼·阿不都热合曼·玉素甫·艾则孜·吐尔逊·阿布拉·依明江·艾力" * 2)[:50]


def _flat(data: bytes, tmp_path) -> str:
    """The PDF's text in the order it is drawn (a cell's lines one after another), with every
    space and line break taken out: a value folded over lines reads whole."""
    path = tmp_path / "flat.pdf"
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-raw", str(path), "-"],
                          capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s", "", text)


def _heading_rows(page: str, categories) -> list[str]:
    return [row for row in page.splitlines() if "社会治安" in row and "环境卫生" in row]


def test_one_long_household_code_and_name_fold_in_their_cells_and_spoil_no_heading(
        session, make, clock, tmp_path, app_context):
    bank = make.bank(rules=MANY_RULES)
    plain = make.resident(bank, name="张三", household=make.household(bank, code="001", name="张家"))
    long_home = make.household(bank, code=LONG_CODE, name=LONG_HOME)
    longest = make.resident(bank, name=LONG_NAME, household=long_home)
    for rule in ("patrol", "volunteer", "study", "cleanup"):
        deed(session, bank, rule, [plain, longest], date(2026, 9, 5), clock)
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    content = services.content_of(snapshot)
    view = paper.notice_paper_view(content, clock.tz)
    # the code's column is capped: the long code folds rather than taking 明细's room
    assert float(view["columns"][2][:-2]) <= 12 * paper.CELL_PT
    for lines in (True, False):
        data = _pdf(snapshot, clock, lines)
        text = "\n".join(_pages(data, tmp_path, layout=True))
        headings = _heading_rows(text, content["categories"])
        # both tables' headings, every category whole on the one line (no 道德/文化)
        assert len(headings) == 2, headings
        assert all(c in row for row in headings for c in content["categories"]), headings
        assert all("明细" in row for row in headings[:1])
        # every long value printed, whole, folded inside its cell
        flat = _flat(data, tmp_path)
        assert LONG_CODE in flat and LONG_NAME in flat and LONG_HOME in flat
        # the ordinary row still prints on one line, its figures under their headings
        row = next(line for line in text.splitlines() if "张三" in line)
        assert row.split()[:3] == ["1", "张三", "001"] or row.split()[1:3] == ["张三", "001"]


def test_the_english_notice_keeps_every_category_heading_whole(session, make, clock, tmp_path, app):
    bank = make.bank(rules=MANY_RULES)
    people = [make.resident(bank, name=f"王{n}") for n in range(3)]
    for rule in ("patrol", "volunteer", "study", "cleanup"):
        deed(session, bank, rule, people, date(2026, 9, 5), clock)
    snapshot = services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    content = services.content_of(snapshot)
    assert len(content["categories"]) >= 5
    with app.test_request_context("/?lang=en"):
        data = paper.notice_pdf(content, snapshot.content_hash, qr_url=None, tz=clock.tz)
    [page] = _pages(data, tmp_path, layout=True)
    assert "Points notice" in page
    headings = _heading_rows(page, content["categories"])
    assert len(headings) == 2 and all(c in row for row in headings for c in content["categories"]), page


def test_a_long_household_code_in_the_day_register_leaves_the_other_columns_their_room(
        session, make, client, tmp_path):
    bank = make.bank()
    longest = make.resident(bank, name=LONG_NAME, household=make.household(bank, code=LONG_CODE, name=LONG_HOME))
    plain = make.resident(bank, name="张三")
    deed(session, bank, "patrol", [longest, plain], date(2026, 10, 14), at(2026, 10, 14, 20))
    answer = client.get("/api/v1/banks/hp/registers/2026-10-14.pdf", headers=make.token(bank, "clerk"))
    assert answer.status_code == 200
    [page] = _pages(answer.data, tmp_path, layout=True)
    rows = page.splitlines()
    # the headings and an ordinary row: every word whole on its line (no 夜间/巡逻, 积/分, 登记/人)
    assert any(all(h in row for h in ("序号", "姓名", "户号", "事项", "发生日期", "积分", "备注", "登记人"))
               for row in rows), page
    assert any("张三" in row and "夜间巡逻" in row and "+" in row for row in rows), page
    flat = _flat(answer.data, tmp_path)
    assert LONG_CODE in flat and LONG_NAME in flat
