"""Objections during the window, decided by a reviewer; then the month is sealed for good."""
from datetime import date

import pytest

from ledger import periods
from ground.errors import NotFound, PeriodSealed, ValidationError
from ledger.models import Transfer
from reports import objections, services
from reports.models import Objection

from .helpers import at, deed


@pytest.fixture
def noticed(session, make, clock):
    """September's notice out on 15 October 10:00; the window closes on the 22nd at 10:00."""
    bank = make.bank()
    wang = make.resident(bank, name="王五")
    [entry] = deed(session, bank, "patrol", [wang], date(2026, 9, 5), clock, quantity=3).transfers
    services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    return bank, wang, entry


def _count(session, model):
    return session.query(model).count()


def test_a_clerk_files_an_objection_against_an_entry_during_the_window(session, noticed, clock):
    bank, wang, entry = noticed
    filed = objections.file_objection(session, bank, resident_id=wang.id, transfer_id=entry.id, month=None,
                                      text="只巡逻了两小时", filed_by="clerk", clock=at(2026, 10, 20))
    assert (filed.status, filed.month, filed.transfer_id) == ("open", "2026-09", entry.id)


@pytest.mark.parametrize("case", ["other_bank_entry", "other_bank_resident", "after_window", "future_month",
                                  "no_month_for_missing_deed", "empty_text", "month_mismatch"])
def test_bad_objections_are_refused_and_write_nothing(session, make, noticed, case):
    bank, wang, entry = noticed
    other = make.bank(code="xz", name="新庄村综治银行")
    stranger = make.resident(other, name="外村人")
    [foreign] = deed(session, other, "patrol", [stranger], date(2026, 9, 5), make.clock).transfers
    args = dict(resident_id=wang.id, transfer_id=entry.id, month=None, text="有误", filed_by="clerk",
                clock=at(2026, 10, 20))
    expected = {"other_bank_entry": NotFound, "other_bank_resident": NotFound,
                "after_window": objections.WindowClosed, "future_month": objections.WindowClosed,
                "no_month_for_missing_deed": ValidationError, "empty_text": ValidationError,
                "month_mismatch": ValidationError}[case]
    if case == "other_bank_entry":
        args["transfer_id"] = foreign.id
    elif case == "other_bank_resident":
        args["resident_id"] = stranger.id
    elif case == "after_window":
        args["clock"] = at(2026, 10, 22, 10, 0)
    elif case == "future_month":
        args.update(transfer_id=None, month="2026-11")
    elif case == "no_month_for_missing_deed":
        args["transfer_id"] = None
    elif case == "empty_text":
        args["text"] = "   "
    elif case == "month_mismatch":
        args["month"] = "2026-08"
    with pytest.raises(expected):
        objections.file_objection(session, bank, **args)
    assert _count(session, Objection) == 0


def test_upholding_reverses_the_entry_today_and_links_the_correction(session, noticed):
    bank, wang, entry = noticed
    later = at(2026, 10, 20)
    filed = objections.file_objection(session, bank, resident_id=wang.id, transfer_id=entry.id, month=None,
                                      text="那天下雨没巡逻", filed_by="clerk", clock=later)
    decided = objections.uphold_objection(session, bank, filed.id, correction="reverse", reason="核实无误",
                                          by="reviewer", clock=later)
    correction = session.get(Transfer, decided.correction_id)
    assert decided.status == "upheld" and correction.reverses_id == entry.id
    assert correction.occurred_on == date(2026, 10, 20)
    with pytest.raises(Exception) as again:
        objections.uphold_objection(session, bank, filed.id, correction="reverse", reason="x", by="r", clock=later)
    assert again.value.code == "already_decided"


def test_upholding_a_missing_deed_posts_it_even_when_its_rule_needs_review(session, noticed):
    bank, wang, _ = noticed
    later = at(2026, 10, 20)
    filed = objections.file_objection(session, bank, resident_id=wang.id, transfer_id=None, month="2026-09",
                                      text="调解了邻里纠纷没登记", filed_by="clerk", clock=later)
    decided = objections.uphold_objection(session, bank, filed.id, correction="deed", rule="mediation",
                                          reason="村干部证实", by="reviewer", clock=later)
    posted = session.get(Transfer, decided.correction_id)
    assert (posted.rule_code, posted.amount, posted.doer_id) == ("mediation", 10, wang.id)
    assert "异议" in posted.memo


def test_rejecting_needs_a_reason_and_posts_nothing(session, noticed):
    bank, wang, entry = noticed
    later = at(2026, 10, 20)
    filed = objections.file_objection(session, bank, resident_id=wang.id, transfer_id=entry.id, month=None,
                                      text="不对", filed_by="clerk", clock=later)
    before = _count(session, Transfer)
    with pytest.raises(ValidationError):
        objections.reject_objection(session, bank, filed.id, reason=" ", by="reviewer", clock=later)
    decided = objections.reject_objection(session, bank, filed.id, reason="有巡逻记录", by="reviewer", clock=later)
    assert decided.status == "rejected" and _count(session, Transfer) == before


def test_the_month_is_sealed_only_after_the_window_and_then_refuses_deeds(session, noticed, make, client):
    bank, wang, _ = noticed
    with pytest.raises(Exception) as early:
        services.seal_month(session, bank, "2026-09", by="cycle", clock=at(2026, 10, 22, 9, 59))
    assert early.value.code == "objection_window_open"
    after = at(2026, 10, 22, 10, 0)
    seal = services.seal_month(session, bank, "2026-09", by="cycle", clock=after)
    assert (seal.sealed_by, seal.month, seal.head_seq) == ("cycle", "2026-09", bank.head_seq)
    assert services.seal_month(session, bank, "2026-09", by="other", clock=after).id == seal.id
    assert periods.is_sealed(session, bank.id, date(2026, 9, 30))
    assert not periods.is_sealed(session, bank.id, date(2026, 10, 1))
    with pytest.raises(PeriodSealed):
        deed(session, bank, "patrol", [wang], date(2026, 9, 30), after)
    answer = client.post("/api/v1/banks/hp/deeds", headers=make.token(bank, "clerk"),
                         json={"rule": "patrol", "residents": [wang.id], "occurred_on": "2026-09-29"})
    assert answer.status_code == 409 and answer.get_json()["error"] == "period_sealed"
    notice = client.get("/api/v1/banks/hp/notices/2026-09", headers=make.token(bank, "clerk")).get_json()
    assert notice["sealed"]["head"]["seq"] == seal.head_seq


def test_a_pending_deed_of_a_sealed_month_cannot_be_approved(session, make, clock):
    from ledger import deeds

    bank = make.bank()
    wang = make.resident(bank, name="王五")
    pending = deed(session, bank, "mediation", [wang], date(2026, 9, 9), clock).pending[0]
    services.publish_notice(session, bank, "2026-09", by="cycle", clock=clock)
    services.seal_month(session, bank, "2026-09", by="cycle", clock=at(2026, 10, 23))
    with pytest.raises(PeriodSealed):
        deeds.decide_pending(session, bank, pending.id, approve=True, reason=None, by="r",
                             clock=at(2026, 10, 23))


def test_objection_api_files_lists_and_decides(session, noticed, make, client):
    bank, wang, entry = noticed
    clerk, reviewer = make.token(bank, "clerk"), make.token(bank, "reviewer")
    filed = client.post("/api/v1/banks/hp/objections", headers=clerk,
                        json={"resident": wang.id, "transfer": entry.id, "text": "时长记错了"})
    assert filed.status_code == 201, filed.get_json()
    oid = filed.get_json()["id"]
    assert client.post(f"/api/v1/banks/hp/objections/{oid}/reject", headers=clerk,
                       json={"reason": "x"}).status_code == 403
    listed = client.get("/api/v1/banks/hp/objections?status=open", headers=clerk).get_json()
    assert [o["id"] for o in listed["items"]] == [oid]
    upheld = client.post(f"/api/v1/banks/hp/objections/{oid}/uphold", headers=reviewer,
                         json={"correction": "reverse", "reason": "核实"})
    assert upheld.status_code == 200 and upheld.get_json()["correction"]
    bad = client.post("/api/v1/banks/hp/objections", headers=clerk, json={"resident": wang.id, "text": "x",
                                                                          "month": "2026-13"})
    assert bad.status_code == 422
