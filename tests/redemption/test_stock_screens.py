"""The office's screens for redemption windows and for goods and stock: who may use them, what
they write, and how a refused form comes back (as typed, the problem beside its field, 422)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from redemption.models import CatalogItem, FundReceipt, RedemptionWindow, StockMovement

from ..conftest import RULES
from ..office.conftest import Desk as FormClient
from .conftest import Desk

WINDOWS, GOODS, STOCK = "/banks/hp/redemption-windows", "/banks/hp/goods", "/banks/hp/goods/stock"


class Office(Desk):
    """A village whose regular window (1–7 October) is over on the tests' day, 15 October, with
    money in the fund and rice on the shelf; users of each role signed in on first use."""

    def __init__(self, make, session, clock, signed_in):
        super().__init__(make, session, clock, rules=RULES)
        self.signed_in, self._clients = signed_in, {}
        self.money(100_000)
        self.item()

    def as_(self, role: str) -> FormClient:
        if role not in self._clients:
            user = self.make.user(None if role == "admin" else self.bank, role, name=f"hp-{role}")
            self._clients[role] = FormClient(self.signed_in(user))
        return self._clients[role]

    def count(self, model) -> int:
        self.session.rollback()
        return self.session.execute(select(func.count()).select_from(model)).scalar()


@pytest.fixture
def office(make, session, clock, signed_in):
    return Office(make, session, clock, signed_in)


def text(answer) -> str:
    """What a page reads, its markup taken out."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True)))


def beside(answer, field_id: str) -> str:
    """The problems shown right after a form field (the office's field-error paragraphs)."""
    page = answer.get_data(as_text=True)
    after = page[page.index(f'id="{field_id}"'):]
    after = after[after.index(">") + 1:]
    return " ".join(re.findall(r'^\s*<p class="field-error" role="alert">(.*?)</p>', after[:600], re.M))


def key_of(answer, form_action: str, source: str | None = None) -> str:
    """The key a page's form carries, so a test posts it as the browser would."""
    page = answer.get_data(as_text=True)
    forms = re.findall(r'<form method="post"[^>]*action="([^"]+)">(.*?)</form>', page, re.S)
    for action, body in forms:
        if action == form_action and (source is None or f'name="source" value="{source}"' in body):
            return re.search(r'name="key" value="([^"]*)"', body).group(1)
    raise AssertionError(f"no form posting to {form_action}")


# --- redemption windows ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_an_extra_window_opened_on_the_screen_lets_the_desk_redeem_today(office, role, client, make):
    office.points(office.wang, 90)
    refused = office.redeem(client, office.wang, [("rice", 1)])
    assert refused.status_code == 409 and refused.get_json()["error"] == "window_closed"
    assert "下次兑换期 2027年1月1日 至 2027年1月7日" in refused.get_json()["message"]
    screen = office.as_(role)
    page = screen.get(WINDOWS)
    assert "今天（2026年10月15日）不是兑换期；下次 2027年1月1日 至 2027年1月7日" in text(page)
    answer = screen.post(WINDOWS, {"opens_on": "2026-10-15", "closes_on": "2026-10-25",
                                   "memo": "理事会决定加开", "key": key_of(page, WINDOWS)})
    assert answer.status_code == 302
    shown = text(screen.get(WINDOWS))
    assert "已加开兑换期：2026年10月15日 至 2026年10月25日" in shown
    assert "今天（2026年10月15日）兑换台开放：2026年10月15日 至 2026年10月25日" in shown
    assert "加开 进行中 理事会决定加开" in shown
    assert office.redeem(client, office.wang, [("rice", 1)]).status_code == 201
    assert office.balance(office.wang) == 60


def test_a_reviewer_ends_an_open_window_and_cancels_one_not_yet_open(office, client):
    screen = office.as_("reviewer")
    for opens, closes in (("2026-10-15", "2026-10-25"), ("2027-02-01", "2027-02-10")):
        page = screen.get(WINDOWS)
        assert screen.post(WINDOWS, {"opens_on": opens, "closes_on": closes,
                                     "key": key_of(page, WINDOWS)}).status_code == 302
    office.points(office.wang, 90)
    today, later = office.session.execute(select(RedemptionWindow.id).order_by(RedemptionWindow.id)).scalars()
    assert screen.post(f"{WINDOWS}/{today}/close").status_code == 302
    assert office.redeem(client, office.wang, [("rice", 1)]).get_json()["error"] == "window_closed"
    assert screen.post(f"{WINDOWS}/{later}/close").status_code == 302
    shown = text(screen.get(WINDOWS))
    assert "2027年2月1日 加开 已关闭" in shown and "2026年10月15日 加开 已关闭" in shown
    assert "已关闭兑换期 2027年2月1日 至 2027年2月10日" in shown
    assert office.redeem(client, office.wang, [("rice", 1)]).get_json()["error"] == "window_closed"


def test_a_double_click_opens_one_window(office):
    screen = office.as_("reviewer")
    form = {"opens_on": "2026-10-15", "closes_on": "2026-10-25", "key": key_of(screen.get(WINDOWS), WINDOWS)}
    first, again = screen.post(WINDOWS, form), screen.post(WINDOWS, form)
    assert first.status_code == again.status_code == 302
    assert office.count(RedemptionWindow) == 1


def test_only_the_reviewer_and_the_county_admin_may_open_or_close_windows(office):
    window = office.as_("reviewer")
    window.post(WINDOWS, {"opens_on": "2026-10-15", "closes_on": "2026-10-25",
                          "key": key_of(window.get(WINDOWS), WINDOWS)})
    [window_id] = office.session.execute(select(RedemptionWindow.id)).scalars()
    for role in ("clerk", "supervisor", "desk"):
        screen = office.as_(role)
        assert screen.get(WINDOWS).status_code == 403, role
        assert screen.post(WINDOWS, {"opens_on": "2027-02-01", "closes_on": "2027-02-10",
                                     "key": "k"}).status_code == 403, role
        assert screen.post(f"{WINDOWS}/{window_id}/close").status_code == 403, role
    office.session.rollback()
    assert office.count(RedemptionWindow) == 1
    assert office.session.get(RedemptionWindow, window_id).closed_at is None


def test_another_banks_windows_answer_404(office, make):
    reviewer = office.as_("reviewer")
    reviewer.post(WINDOWS, {"opens_on": "2026-10-15", "closes_on": "2026-10-25",
                            "key": key_of(reviewer.get(WINDOWS), WINDOWS)})
    [window_id] = office.session.execute(select(RedemptionWindow.id)).scalars()
    other = make.bank(code="other", name="别村")
    stranger = FormClient(office.signed_in(make.user(other, "reviewer", name="other-reviewer")))
    assert stranger.get(WINDOWS).status_code == 404
    assert stranger.post(WINDOWS, {"opens_on": "2027-02-01", "closes_on": "2027-02-10", "key": "k"}).status_code == 404
    assert stranger.post(f"{WINDOWS}/{window_id}/close").status_code == 404
    assert stranger.post(f"/banks/other/redemption-windows/{window_id}/close").status_code == 404
    office.session.rollback()
    assert office.session.get(RedemptionWindow, window_id).closed_at is None


#: Windows the screen refuses: (first day, last day, note, the field named, the problem said).
BAD_WINDOWS = [
    ("2026-10-20", "2026-10-16", "", "closes_on", "结束日不能早于开始日"),
    ("2026-12-30", "2027-01-03", "", "opens_on", "与已有兑换期重叠"),
    ("2027-01-07", "2027-01-20", "", "opens_on", "与已有兑换期重叠"),
    ("2026-10-15", "2027-01-31", "", "closes_on", "一个兑换期最长 63 天"),
    ("2026-09-01", "2026-09-05", "", "closes_on", "不能添加已经结束的兑换期"),
    ("2026-13-01", "2026-10-20", "", "opens_on", "须为 YYYY-MM-DD 格式的日期"),
    ("1000000000000000000", "2026-10-20", "", "opens_on", "须为 YYYY-MM-DD 格式的日期"),
    ("", "2026-10-20", "", "opens_on", "须为 YYYY-MM-DD 格式的日期"),
    ("2026-10-15", "2026-10-20", "春节\x00前", "memo", "不能含控制字符"),
    ("2026-10-15", "2026-10-20", "长" * 201, "memo", "长度不能超过 200"),
]


def test_a_refused_window_comes_back_as_typed_with_the_problem_beside_its_field(office):
    screen = office.as_("reviewer")
    for opens, closes, memo, field, problem in BAD_WINDOWS:
        answer = screen.post(WINDOWS, {"opens_on": opens, "closes_on": closes, "memo": memo,
                                       "key": key_of(screen.get(WINDOWS), WINDOWS)})
        assert answer.status_code == 422, (opens, closes, memo)
        assert problem in beside(answer, field), (opens, closes, memo)
        page = answer.get_data(as_text=True)
        assert f'name="opens_on" type="date" required value="{opens}"' in page
        assert f'name="closes_on" type="date" required value="{closes}"' in page
    assert office.count(RedemptionWindow) == 0


def test_the_desk_links_to_the_windows_screen_for_those_who_may_open_one(office):
    admin, desk = office.as_("admin").get("/banks/hp/desk"), office.as_("desk").get("/banks/hp/desk")
    assert "现在不是兑换期；下次 2027年1月1日 — 2027年1月7日" in text(admin)
    link = f'<a href="{WINDOWS}#extra">加开兑换期</a>'
    assert link in admin.get_data(as_text=True) and link not in desk.get_data(as_text=True)


# --- goods and stock ------------------------------------------------------------------------------

def test_goods_added_on_the_screen_are_listed_by_name_with_their_cost_in_yuan(office):
    screen = office.as_("clerk")
    page = screen.get(GOODS)
    answer = screen.post(GOODS, {"name": "食用油 5L", "points": "60", "cost_yuan": "12.50",
                                 "limit_per_window": "2", "key": key_of(page, GOODS)})
    assert answer.status_code == 302
    office.session.rollback()
    item = office.session.execute(select(CatalogItem).where(CatalogItem.name == "食用油 5L")).scalar_one()
    assert (item.sku, item.points, item.cost_fen, item.limit_per_window, item.stock) == ("syy5l", 60, 1250, 2, 0)
    shown = text(screen.get(GOODS))
    assert "已添加物品：食用油 5L" in shown
    assert "食用油 5L 货号 syy5l 60 ¥12.50 0 2" in shown


def test_the_reviewer_and_the_county_admin_add_goods_too(office):
    for role, name in (("reviewer", "毛巾"), ("admin", "肥皂")):
        screen = office.as_(role)
        answer = screen.post(GOODS, {"name": name, "points": "10", "cost_yuan": "3",
                                     "key": key_of(screen.get(GOODS), GOODS)})
        assert answer.status_code == 302, role
    assert office.count(CatalogItem) == 3


def test_goods_of_the_same_name_get_codes_of_their_own(office):
    screen = office.as_("clerk")
    for _ in range(2):
        screen.post(GOODS, {"name": "大米 5kg", "points": "30", "cost_yuan": "25",
                            "key": key_of(screen.get(GOODS), GOODS)})
    office.session.rollback()
    skus = office.session.execute(select(CatalogItem.sku).order_by(CatalogItem.id)).scalars().all()
    assert skus == ["rice", "dm5kg", "dm5kg-2"]


def test_a_double_click_adds_the_goods_once(office):
    screen = office.as_("clerk")
    form = {"name": "食用油 5L", "points": "60", "cost_yuan": "12.50", "key": key_of(screen.get(GOODS), GOODS)}
    assert screen.post(GOODS, form).status_code == screen.post(GOODS, form).status_code == 302
    assert office.count(CatalogItem) == 2


#: Goods the screen refuses: (what differs from good goods, the field named, the problem said).
BAD_GOODS = [
    ({"points": "0"}, "add-points", "须在 1 与 100000 之间"),
    ({"points": "-5"}, "add-points", "须在 1 与 100000 之间"),
    ({"points": "1000000000000000000"}, "add-points", "须在 1 与 100000 之间"),
    ({"points": "100001"}, "add-points", "须在 1 与 100000 之间"),
    ({"points": "六十"}, "add-points", "须为整数"),
    ({"cost_yuan": "-1"}, "add-cost", "须为金额"),
    ({"cost_yuan": "1000000000000000000"}, "add-cost", "须为金额"),
    ({"cost_yuan": "100000000.01"}, "add-cost", "须为金额"),
    ({"cost_yuan": "12.345"}, "add-cost", "须为金额"),
    ({"cost_yuan": ""}, "add-cost", "须为金额"),
    ({"name": "食用\x00油"}, "add-name", "不能含控制字符"),
    ({"name": "油" * 101}, "add-name", "长度不能超过 100"),
    ({"name": "  "}, "add-name", "不能为空白"),
    ({"limit_per_window": "0"}, "add-limit", "须在 1 与 1000 之间"),
    ({"limit_per_window": "1001"}, "add-limit", "须在 1 与 1000 之间"),
    ({"sku": "食用油"}, "add-sku", "须为字母或数字开头"),
    ({"sku": "a" * 41}, "add-sku", "须为字母或数字开头"),
    ({"sku": "x\x00"}, "add-sku", "须为字母或数字开头"),
]


def test_refused_goods_come_back_as_typed_with_the_problem_beside_the_field(office):
    screen = office.as_("clerk")
    for changes, field, problem in BAD_GOODS:
        form = {"name": "食用油 5L", "points": "60", "cost_yuan": "12.50", "limit_per_window": "",
                "sku": "", **changes, "key": key_of(screen.get(GOODS), GOODS)}
        answer = screen.post(GOODS, form)
        assert answer.status_code == 422, changes
        assert problem in beside(answer, field), changes
        page = answer.get_data(as_text=True)
        if "name" not in changes:
            assert 'id="add-name" name="name" maxlength="100" required value="食用油 5L"' in page
        assert f'name="cost_yuan" inputmode="decimal" required value="{form["cost_yuan"]}"' in page
    assert office.count(CatalogItem) == 1


def test_every_problem_of_a_form_is_shown_at_once(office):
    screen = office.as_("clerk")
    answer = screen.post(GOODS, {"name": "", "points": "0", "cost_yuan": "十元",
                                 "key": key_of(screen.get(GOODS), GOODS)})
    assert answer.status_code == 422
    assert "不能为空白" in beside(answer, "add-name") and "须在 1 与 100000 之间" in beside(answer, "add-points")
    assert "须为金额" in beside(answer, "add-cost")
    stock = screen.post(STOCK, {"source": "purchase", "sku": "nope\x00", "quantity": "0", "total_yuan": "-1",
                                "key": key_of(screen.get(GOODS), STOCK, "purchase")})
    assert "请从列表中选择物品" in beside(stock, "purchase-sku")
    assert "须在 1 与 1000 之间" in beside(stock, "purchase-quantity") and "须为金额" in beside(stock, "purchase-total")
    assert office.count(CatalogItem) == 1 and office.stock() == 10


def test_a_code_already_taken_is_refused_by_name(office):
    screen = office.as_("clerk")
    answer = screen.post(GOODS, {"name": "大米 10kg", "points": "50", "cost_yuan": "45", "sku": "rice",
                                 "key": key_of(screen.get(GOODS), GOODS)})
    assert answer.status_code == 422 and "货号 rice 已存在" in text(answer)
    assert 'value="大米 10kg"' in answer.get_data(as_text=True)
    assert office.count(CatalogItem) == 1


def test_a_purchase_on_the_screen_shows_the_new_stock_at_the_desk(office):
    screen = office.as_("clerk")
    page = screen.get(f"{GOODS}?item=rice")
    assert '<option value="rice" selected>大米 5kg（库存 10）</option>' in page.get_data(as_text=True)
    answer = screen.post(STOCK, {"source": "purchase", "sku": "rice", "quantity": "5", "total_yuan": "100",
                                 "key": key_of(page, STOCK, "purchase")})
    assert answer.status_code == 302
    assert "已购入：大米 5kg × 5，共 ¥100.00，现有库存 15" in text(screen.get(GOODS))
    assert office.stock() == 15
    office.points(office.wang, 30)
    desk = office.as_("desk").get(f"/banks/hp/desk?resident={office.wang.id}")
    assert re.search(r"<td>大米 5kg</td><td class=\"num\">30</td><td class=\"num\">15</td>",
                     desk.get_data(as_text=True))


def test_the_reviewer_and_the_county_admin_restock_too(office):
    for role, source in (("reviewer", "purchase"), ("admin", "donation")):
        screen = office.as_(role)
        answer = screen.post(STOCK, {"source": source, "sku": "rice", "quantity": "2", "donor": "李四",
                                     "key": key_of(screen.get(GOODS), STOCK, source)})
        assert answer.status_code == 302, role
    assert office.stock() == 14


def test_a_purchase_left_blank_costs_the_unit_cost_times_the_quantity(office):
    screen = office.as_("clerk")
    screen.post(STOCK, {"source": "purchase", "sku": "rice", "quantity": "4", "total_yuan": "",
                        "key": key_of(screen.get(GOODS), STOCK, "purchase")})
    office.session.rollback()
    latest = office.session.execute(select(StockMovement).order_by(StockMovement.id.desc())).scalars().first()
    assert (latest.reason, latest.quantity, latest.value_fen) == ("purchase", 4, 4 * 2500)


def test_a_donation_in_kind_is_recorded_with_its_donor(office):
    screen = office.as_("clerk")
    answer = screen.post(STOCK, {"source": "donation", "sku": "rice", "quantity": "3", "donor": "张三超市",
                                 "donor_source": "sponsor", "total_yuan": "90",
                                 "key": key_of(screen.get(GOODS), STOCK, "donation")})
    assert answer.status_code == 302
    shown = text(screen.get(GOODS))
    assert "已登记捐赠：大米 5kg × 3（张三超市），现有库存 13" in shown
    assert "2026年10月15日 大米 5kg 3 捐赠：张三超市 ¥90.00 hp-clerk" in shown
    office.session.rollback()
    gift = office.session.execute(select(FundReceipt).where(FundReceipt.in_kind.is_(True))).scalar_one()
    assert (gift.donor, gift.source, gift.quantity, gift.amount_fen) == ("张三超市", "sponsor", 3, 9000)
    assert "张三超市" in text(screen.get("/banks/hp/fund"))


def test_a_double_click_restocks_once(office):
    screen = office.as_("clerk")
    form = {"source": "purchase", "sku": "rice", "quantity": "5",
            "key": key_of(screen.get(GOODS), STOCK, "purchase")}
    assert screen.post(STOCK, form).status_code == screen.post(STOCK, form).status_code == 302
    assert office.stock() == 15


#: Stock forms the screen refuses: (which form, what differs, the field named, the problem said).
BAD_STOCK = [
    ("purchase", {"quantity": "0"}, "purchase-quantity", "须在 1 与 1000 之间"),
    ("purchase", {"quantity": "-3"}, "purchase-quantity", "须在 1 与 1000 之间"),
    ("purchase", {"quantity": "1001"}, "purchase-quantity", "须在 1 与 1000 之间"),
    ("purchase", {"quantity": "1000000000000000000"}, "purchase-quantity", "须在 1 与 1000 之间"),
    ("purchase", {"quantity": ""}, "purchase-quantity", "须为整数"),
    ("purchase", {"total_yuan": "-5"}, "purchase-total", "须为金额"),
    ("purchase", {"total_yuan": "1000000000000000000"}, "purchase-total", "须为金额"),
    ("purchase", {"sku": "nope"}, "purchase-sku", "请从列表中选择物品"),
    ("purchase", {"sku": "ri\x00ce"}, "purchase-sku", "请从列表中选择物品"),
    ("donation", {"donor": ""}, "donation-donor", "捐赠须写明捐赠人"),
    ("donation", {"donor": "张\x00三"}, "donation-donor", "不能含控制字符"),
    ("donation", {"donor": "张" * 101}, "donation-donor", "长度不能超过 100"),
    ("donation", {"donor_source": "bank"}, "donation-source", "须为以下之一"),
    ("donation", {"quantity": "0"}, "donation-quantity", "须在 1 与 1000 之间"),
    ("donation", {"sku": "nope"}, "donation-sku", "请从列表中选择物品"),
]


def test_a_refused_stock_form_comes_back_as_typed_and_moves_nothing(office):
    screen = office.as_("clerk")
    for source, changes, field, problem in BAD_STOCK:
        form = {"source": source, "sku": "rice", "quantity": "5", "total_yuan": "", "donor": "张三",
                "donor_source": "donor", **changes, "key": key_of(screen.get(GOODS), STOCK, source)}
        answer = screen.post(STOCK, form)
        assert answer.status_code == 422, (source, changes)
        assert problem in beside(answer, field), (source, changes)
        page = answer.get_data(as_text=True)
        assert (f'id="{source}-quantity" name="quantity" type="number" min="1" max="1000" required '
                f'value="{form["quantity"]}"') in page
    assert office.stock() == 10 and office.count(StockMovement) == 1 and office.count(FundReceipt) == 1


def test_a_purchase_the_fund_cannot_pay_is_refused_and_moves_nothing(office):
    screen = office.as_("clerk")
    answer = screen.post(STOCK, {"source": "purchase", "sku": "rice", "quantity": "1000",
                                 "total_yuan": "2000000", "key": key_of(screen.get(GOODS), STOCK, "purchase")})
    assert answer.status_code == 422
    assert "基金余额不足以支付这批物资" in text(answer)
    assert 'value="2000000"' in answer.get_data(as_text=True)
    assert office.stock() == 10 and office.count(StockMovement) == 1


def test_only_clerks_reviewers_and_the_admin_may_add_goods_or_stock(office):
    for role in ("supervisor", "desk"):
        screen = office.as_(role)
        assert screen.get(GOODS).status_code == 403, role
        assert screen.post(GOODS, {"name": "油", "points": "6", "cost_yuan": "1", "key": "k"}).status_code == 403
        assert screen.post(STOCK, {"source": "purchase", "sku": "rice", "quantity": "5",
                                   "key": "k"}).status_code == 403
    assert office.stock() == 10 and office.count(CatalogItem) == 1


def test_another_banks_goods_answer_404_and_its_codes_are_not_ours(office, make, session, clock):
    from redemption.services import catalog

    other = make.bank(code="other", name="别村")
    catalog.create_item(session, other, sku="oil", name="油", points=6, cost_fen=100,
                         limit_per_window=None, by="test", clock=clock)
    stranger = FormClient(office.signed_in(make.user(other, "clerk", name="other-clerk")))
    assert stranger.get(GOODS).status_code == 404
    assert stranger.post(STOCK, {"source": "purchase", "sku": "rice", "quantity": "5", "key": "k"}).status_code == 404
    ours = office.as_("clerk")
    answer = ours.post(STOCK, {"source": "purchase", "sku": "oil", "quantity": "5",
                               "key": key_of(ours.get(GOODS), STOCK, "purchase")})
    assert answer.status_code == 422 and "请从列表中选择物品" in beside(answer, "purchase-sku")
    assert catalog.get_item(session, other, "oil", fresh=True).stock == 0 and office.stock() == 10


def test_the_navigation_offers_the_screens_to_the_roles_that_use_them(office):
    for role, shown in (("clerk", {"商品与库存"}), ("reviewer", {"兑换期", "商品与库存"}),
                        ("admin", {"兑换期", "商品与库存"}), ("supervisor", set()), ("desk", set())):
        page = office.as_(role).get("/banks/hp/residents").get_data(as_text=True)
        nav = re.search(r'<nav class="staff".*?</nav>', page, re.S).group(0)
        words = set(re.findall(r">([^<]+)</a>", nav))
        assert words & {"兑换期", "商品与库存"} == shown, role


def test_the_screens_read_in_english_too(office):
    screen = office.as_("reviewer")
    windows = text(screen.get(f"{WINDOWS}?lang=en"))
    assert "Redemption windows" in windows and "15 Oct 2026" in windows
    assert "Open an extra window" in windows and "Regular" in windows
    goods = text(screen.get(GOODS))
    assert "Goods and stock" in goods and "¥25.00" in goods and "Record a donation in kind" in goods
