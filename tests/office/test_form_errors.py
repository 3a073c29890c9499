"""Every office form submitted wrong answers 422 with the form as typed and the problem beside
its field: nothing typed is lost, nothing is written."""
from __future__ import annotations

import pytest

from ..forms import read_form
from .conftest import Desk, text

LONG = "长" * 501  # one more than a memo or a reason may hold


def _cases(v):
    """(who, address, what is typed, the field whose problem is expected beside it)."""
    wang, first = v["people"]["王大"], v["first"]
    return {
        # A wrong password is a refused sign-in (401), not a form typed wrong; the name stays.
        "sign-in": (None, "/login", {"name": "hp-clerk", "password": "wrong password"}, None),
        "new resident": ("clerk", "/banks/hp/residents/new",
                         {"name": "王五", "household": "E01", "phone": "1381234", "reading": "wang wu"},
                         "phone"),
        "resident": ("clerk", f"/banks/hp/residents/{wang.id}/edit",
                     {"name": "王大", "phone": "12", "relation": "户主", "reading": ""}, "phone"),
        "move to another household": ("clerk", f"/banks/hp/residents/{wang.id}/move",
                                      {"household": "X99", "reason": "搬到女儿家"}, "household"),
        "deactivate": ("clerk", f"/banks/hp/residents/{wang.id}/active",
                       {"active": "0", "reason": LONG}, "reason"),
        "new household": ("clerk", "/banks/hp/households", {"code": "E01", "name": "又一个王家"}, "code"),
        "household": ("clerk", f"/banks/hp/households/{v['east'].id}", {"name": "户" * 101}, "name"),
        "deed": ("clerk", "/banks/hp/deeds/new",
                 {"r": str(wang.id), "rule": "patrol", "quantity": "三", "memo": "东片巡逻",
                  "occurred_on": "2026-10-14", "idem": "k1"}, "quantity"),
        "penalty": ("clerk", "/banks/hp/penalties/new",
                    {"r": str(wang.id), "rule": "litter", "quantity": "2", "memo": "",
                     "occurred_on": "2026-10-14", "idem": "k2"}, "memo"),
        "reversal": ("clerk", f"/banks/hp/transfers/{first.id}", {"reason": LONG}, "reason"),
        "reject a pending deed": ("reviewer", f"/banks/hp/pending/{v['waiting'].id}/reject",
                                  {"reason": LONG}, "reason"),
        "objection": (None, f"/c/{v['card']}/object", {"month": "2026-10", "text": "  "}, "text"),
        "a card the desk does not know": ("desk", "/banks/hp/desk/scan",
                                          {"scan": "http://127.0.0.1/c/" + "A" * 43}, "scan"),
        "print cards for nobody": ("clerk", "/banks/hp/cards", {"per_page": "8"}, "all"),
        "open a bank": ("admin", "/admin/banks",
                        {"code": "新 村", "name": "新村综治银行", "template": "default",
                         "clerk": "xc-clerk", "password": "correct horse battery"}, "code"),
        "fund receipt": ("clerk", "/banks/hp/fund",
                         {"source": "sponsor", "donor": "王老板", "received_on": "2026-10-14",
                          "amount_yuan": "一千", "restriction": "goods", "memo": "春节慰问"}, "amount_yuan"),
    }


@pytest.fixture
def forms(village, make, session, clock):
    from cards.services import issue_cards

    people = village["people"]
    village["first"] = make.deed(village["bank"], "patrol", [people["王大"]]).transfers[0]
    village["waiting"] = make.deed(village["bank"], "mediation", [people["曾三"]], memo="调解").pending[0]
    village["card"] = issue_cards(session, village["bank"], resident_ids=[people["王大"].id], by="test",
                                  clock=clock)[0].token
    return village


CASES = ("sign-in", "new resident", "resident", "move to another household", "deactivate",
         "new household", "household", "deed", "penalty", "reversal", "reject a pending deed",
         "open a bank", "fund receipt", "objection", "a card the desk does not know",
         "print cards for nobody")


@pytest.mark.parametrize("case", CASES)
def test_a_form_submitted_wrong_comes_back_as_typed_with_the_problem_beside_the_field(
        case, forms, sign_in, client):
    cases = _cases(forms)
    assert set(cases) == set(CASES)
    who, url, typed, field = cases[case]
    desk = sign_in(forms["users"][who]) if who else Desk(client, token_from=url)
    answer = desk.post(url, data=typed)
    assert answer.status_code == (401 if case == "sign-in" else 422), \
        (answer.status_code, answer.headers.get("Location"))
    values, beside = read_form(text(answer))
    for name, value in typed.items():
        if name in ("password", "idem"):
            continue
        assert value in values.get(name, []), f"{name}: typed {value!r}, came back {values.get(name)}"
    if field is not None:
        assert beside.get(field), f"no problem beside {field}: {beside}"
