"""The foundation's forms as a clerk fills them: people picked by name, money in yuan, and a
refused form answered again as typed with the problem beside its field, nothing written."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from foundation.models import Applicant, Application

from .conftest import API
from .test_pages import _sign_in


def _count(session, model) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


def _beside(page: str, field: str) -> str:
    """The problems shown right after a field (up to the next label)."""
    after = page[page.index(f'name="{field}"'):]
    return "".join(re.findall(r'<p class="field-error"[^>]*>([^<]*)</p>', after.split("<label", 1)[0]))


def test_an_applicants_members_are_found_by_pinyin_initials_and_registered_by_name(client, district, session):
    token = _sign_in(client, "clerk")
    found = client.post("/foundation/hp/applicants/new", data={
        "csrf_token": token, "kind": "group", "name": "巡逻志愿队", "members_q": "wdm ls"})
    page = found.get_data(as_text=True)
    assert found.status_code == 200
    assert f'name="members" value="{district.wang.id}" checked' in page
    assert f'name="members" value="{district.li.id}" checked' in page
    assert 'value="巡逻志愿队"' in page and _count(session, Applicant) == 0
    saved = client.post("/foundation/hp/applicants/new", data={
        "csrf_token": token, "kind": "group", "name": "巡逻志愿队",
        "members": [str(district.wang.id), str(district.li.id)]})
    assert saved.status_code == 302
    shown = client.get(f"{API}/applicants", headers=district.clerk).get_json()["items"]
    assert [sorted(m["name"] for m in a["members"]) for a in shown] == [["李四", "王大明"]]


def test_an_applicant_without_members_comes_back_as_typed_with_the_problem_beside_members(client, district, session):
    token = _sign_in(client, "clerk")
    answer = client.post("/foundation/hp/applicants/new", data={
        "csrf_token": token, "kind": "group", "name": "巡逻志愿队", "phone": "13800000000"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'value="巡逻志愿队"' in page and 'value="13800000000"' in page
    assert '<option value="group" selected>' in page
    assert "请先按姓名或拼音查找并勾选居民" in _beside(page, "members_q")
    assert "请求内容有误" not in page and _count(session, Applicant) == 0


def test_a_budget_that_does_not_add_up_is_shown_in_yuan_beside_the_budget_with_the_form_refilled(
        client, district, session):
    token = _sign_in(client, "clerk")
    applicant = client.post(f"{API}/applicants", headers=district.clerk,
                            json={"kind": "station", "name": "弹子石公益站", "members": [district.li.id]}).get_json()
    answer = client.post("/foundation/hp/applications/new", data={
        "csrf_token": token, "applicant": str(applicant["id"]), "title": "楼道照明",
        "purpose": "楼道太黑", "budget": "感应灯 20 个 2000", "amount_requested": "2500",
        "starts_on": "2026-11-01", "ends_on": "2026-11-30"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "预算明细合计 ¥2,000.00，与申请金额 ¥2,500.00 不符" in _beside(page, "budget")
    assert 'value="楼道照明"' in page and ">感应灯 20 个 2000</textarea>" in page
    assert 'value="2500"' in page and 'value="2026-11-30"' in page
    assert f'<option value="{applicant["id"]}" selected>' in page
    assert _count(session, Application) == 0


def test_a_bad_amount_comes_back_beside_the_amount_and_the_rest_as_typed(client, district, session):
    token = _sign_in(client, "clerk")
    answer = client.post("/foundation/hp/applications/new", data={
        "csrf_token": token, "applicant": "1", "title": "楼道照明", "purpose": "楼道太黑",
        "budget": "灯 12", "amount_requested": "十二元", "starts_on": "2026-11-01", "ends_on": "2026-11-30"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "不是有效的金额" in _beside(page, "amount_requested")
    assert ">灯 12</textarea>" in page and _count(session, Application) == 0


def test_a_wish_is_taken_for_a_resident_found_by_pinyin_with_its_value_in_yuan(client, district, session):
    from foundation.models import Wish

    token = _sign_in(client, "clerk")
    typed = {"csrf_token": token, "title": "一台助听器", "description": "耳背多年", "estimated_value": "1,200.50"}
    found = client.post("/foundation/hp/wishes/new", data={**typed, "resident_q": "zhaoxiaohong"})
    page = found.get_data(as_text=True)
    assert found.status_code == 200 and _count(session, Wish) == 0
    assert f'type="radio" name="resident" value="{district.wang_wife.id}" checked' in page
    assert 'value="一台助听器"' in page and 'value="1,200.50"' in page
    saved = client.post("/foundation/hp/wishes/new", data={**typed, "resident": str(district.wang_wife.id)})
    assert saved.status_code == 302
    wish = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "赵小红" in wish and "¥1,200.50" in wish


def test_a_wish_without_its_resident_comes_back_as_typed_and_writes_nothing(client, district, session):
    from foundation.models import Wish

    token = _sign_in(client, "clerk")
    answer = client.post("/foundation/hp/wishes/new", data={
        "csrf_token": token, "resident": "王大明", "title": "一台助听器", "description": "耳背多年"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "不是本村在册居民" in _beside(page, "resident_q")
    assert 'value="一台助听器"' in page and ">耳背多年</textarea>" in page
    assert _count(session, Wish) == 0


def test_a_reviewer_is_linked_to_a_resident_both_picked_by_name(client, district, session):
    from foundation.models import ReviewerResident

    token = _sign_in(client, "clerk")
    index = client.get("/foundation/hp/").get_data(as_text=True)
    reviewer = district.reviewers[0][0]
    assert f'<option value="{reviewer.id}">{reviewer.name}</option>' in index
    found = client.post("/foundation/hp/reviewers", data={
        "csrf_token": token, "user": str(reviewer.id), "resident_q": "李四"})
    page = found.get_data(as_text=True)
    assert found.status_code == 200 and _count(session, ReviewerResident) == 0
    assert f'<option value="{reviewer.id}" selected>' in page
    assert f'name="resident" value="{district.li.id}" checked' in page
    linked = client.post("/foundation/hp/reviewers", data={
        "csrf_token": token, "user": str(reviewer.id), "resident": str(district.li.id)})
    assert linked.status_code == 302
    assert f"{reviewer.name}：李四" in client.get("/foundation/hp/").get_data(as_text=True)


def test_linking_a_reviewer_to_nobody_answers_beside_the_resident_and_writes_nothing(client, district, session):
    from foundation.models import ReviewerResident

    token = _sign_in(client, "clerk")
    answer = client.post("/foundation/hp/reviewers", data={
        "csrf_token": token, "user": str(district.reviewers[0][0].id)})
    assert answer.status_code == 422
    assert "请先按姓名或拼音查找并勾选居民" in _beside(answer.get_data(as_text=True), "resident_q")
    assert _count(session, ReviewerResident) == 0


def test_an_award_beyond_the_request_comes_back_in_yuan_beside_the_amount_with_the_minutes_kept(
        client, district, session):
    from foundation.models import Decision

    from .conftest import application, score_all, station, to_review

    district.fund(restricted=1_000_000)
    app_id = application(client, district, station(client, district), amount=500_000)["id"]
    to_review(client, district, app_id)
    score_all(client, district, app_id)
    token = _sign_in(client, district.reviewers[0][0].name)
    answer = client.post(f"/foundation/hp/applications/{app_id}/decision", data={
        "csrf_token": token, "met_on": "2026-10-14", "attendees": "王理事、李理事、周理事",
        "votes_for": "3", "votes_against": "0", "abstaining": "0", "outcome": "awarded",
        "amount": "6000", "minutes": "同意资助"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert "资助金额 ¥6,000.00 超过申请金额 ¥5,000.00" in page
    assert "≤ ¥5,000.00" in _beside(page, "amount")
    assert ">王理事、李理事、周理事</textarea>" in page and ">同意资助</textarea>" in page
    assert 'name="amount" size="10" value="6000"' in page
    assert _count(session, Decision) == 0


def test_a_tranche_beyond_the_award_comes_back_beside_the_amount_and_moves_no_money(client, district, session):
    from foundation.models import Tranche

    from .conftest import awarded

    district.fund(restricted=1_000_000)
    app_id = awarded(client, district, amount=400_000)
    token = _sign_in(client, "clerk")
    answer = client.post(f"/foundation/hp/applications/{app_id}/tranches", data={
        "csrf_token": token, "amount": "4,000.01", "memo": "第一期"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert "≤ ¥4,000.00" in _beside(page, "amount")
    assert 'value="4,000.01"' in page and 'value="第一期"' in page
    assert _count(session, Tranche) == 0 and district.balance(f"project:{app_id}") == 0


def test_volunteers_are_credited_by_name_on_the_application_page(client, district, session):
    from .conftest import awarded

    district.fund(restricted=1_000_000)
    app_id = awarded(client, district, amount=400_000)
    token = _sign_in(client, "clerk")
    url = f"/foundation/hp/applications/{app_id}/volunteers"
    found = client.post(url, data={"csrf_token": token, "residents_q": "ls zhouwu", "quantity": "3",
                                   "occurred_on": "2026-10-14"})
    page = found.get_data(as_text=True)
    assert found.status_code == 200
    assert f'name="residents" value="{district.li.id}" checked' in page
    assert f'name="residents" value="{district.zhou.id}" checked' in page
    assert 'name="quantity" value="3"' in page
    credited = client.post(url, data={"csrf_token": token, "residents": [str(district.li.id), str(district.zhou.id)],
                                      "quantity": "3", "occurred_on": "2026-10-14"})
    assert credited.status_code == 302
    shown = client.get(f"{API}/applications/{app_id}", headers=district.clerk).get_json()["volunteers"]
    assert sorted(v["name"] for v in shown) == ["周五", "李四"]


def test_a_step_the_application_cannot_take_says_why_on_its_page(client, district, session):
    from .conftest import application, station

    app_id = application(client, district, station(client, district))["id"]
    token = _sign_in(client, "clerk")
    answer = client.post(f"/foundation/hp/applications/{app_id}/move/start", data={"csrf_token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert "老旧楼栋安装监控" in page and 'class="error" role="alert"' in page


def test_a_wish_is_claimed_by_residents_found_by_name(client, district, session):
    from .test_wishes import _published

    wish_id = _published(client, district)
    token = _sign_in(client, "clerk")
    url = f"/foundation/hp/wishes/{wish_id}/claim"
    found = client.post(url, data={"csrf_token": token, "residents_q": "李四", "outside": "单位 南岸药房 023-62881234"})
    page = found.get_data(as_text=True)
    assert found.status_code == 200
    assert f'name="residents" value="{district.li.id}" checked' in page and ">单位 南岸药房 023-62881234</textarea>" in page
    claimed = client.post(url, data={"csrf_token": token, "residents": str(district.li.id),
                                     "outside": "单位 南岸药房 023-62881234"})
    assert claimed.status_code == 302
    donors = client.get(f"{API}/wishes/{wish_id}", headers=district.clerk).get_json()["claim"]["donors"]
    assert [d["name"] for d in donors] == ["李四", "南岸药房"]


def test_a_paper_form_that_is_no_scan_refuses_the_whole_application_beside_the_file(client, district, session):
    import io

    token = _sign_in(client, "clerk")
    applicant = client.post(f"{API}/applicants", headers=district.clerk,
                            json={"kind": "station", "name": "弹子石公益站", "members": [district.li.id]}).get_json()
    answer = client.post("/foundation/hp/applications/new", content_type="multipart/form-data", data={
        "csrf_token": token, "applicant": str(applicant["id"]), "title": "楼道照明", "purpose": "楼道太黑",
        "budget": "感应灯 2000", "amount_requested": "2000", "starts_on": "2026-11-01",
        "ends_on": "2026-11-30", "paper_form": (io.BytesIO(b"just some text"), "scan.txt")})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "只接受 JPEG、PNG 照片或 PDF 扫描件" in _beside(page, "paper_form")
    assert 'value="楼道照明"' in page and _count(session, Application) == 0
