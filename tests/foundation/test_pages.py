"""Screens, the public page, the quarterly report and PDF, the rule file's section, the migration."""
from __future__ import annotations

import re
import subprocess

from foundation import attachments, money, public

from .conftest import API, FOUNDATION_RULES, awarded


def _sign_in(client, name):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"name": name, "password": "correct horse battery", "csrf_token": token})
    assert answer.status_code == 302
    # Signing in starts a new session: the forms from here on carry a new token.
    page = client.get("/foundation/hp/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_a_clerk_enters_an_application_from_the_paper_form_on_the_screen(client, district, files):
    import io
    token = _sign_in(client, "clerk")
    applicant = client.post(f"{API}/applicants", headers=district.clerk,
                            json={"kind": "station", "name": "弹子石公益站", "members": [district.li.id]}).get_json()
    form = client.get("/foundation/hp/applications/new").get_data(as_text=True)
    assert "录入微项目申请" in form and "弹子石公益站" in form
    answer = client.post("/foundation/hp/applications/new", content_type="multipart/form-data", data={
        "csrf_token": token, "applicant": str(applicant["id"]), "title": "楼道照明",
        "purpose": "楼道太黑，老人摔跤", "budget": "感应灯 20 个 1,200\n电线 安装 300.50",
        "amount_requested": "1500.50", "starts_on": "2026-11-01", "ends_on": "2026-11-30",
        "paper_form": (io.BytesIO(b"%PDF-1.4 signed"), "scan.pdf")})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "楼道照明" in page and "¥1,500.50" in page and "¥300.50" in page
    assert "scan.pdf" in page and "代 弹子石公益站" in page
    submitted = client.post(answer.headers["Location"] + "/move/submit", data={"csrf_token": token})
    assert submitted.status_code == 302
    assert "已提交" in client.get(answer.headers["Location"]).get_data(as_text=True)


def test_a_bad_amount_on_the_screen_says_which_field(client, district):
    token = _sign_in(client, "clerk")
    answer = client.post("/foundation/hp/applications/new", data={
        "csrf_token": token, "applicant": "1", "title": "x", "purpose": "y", "budget": "灯 12.345",
        "amount_requested": "12.345", "starts_on": "2026-11-01", "ends_on": "2026-11-30"})
    assert answer.status_code == 422 and "12.345" in answer.get_data(as_text=True)


def test_a_reviewer_scores_on_the_screen_and_a_form_without_csrf_is_refused(client, district):
    from .conftest import application, station, to_review
    app_id = application(client, district, station(client, district))["id"]
    to_review(client, district, app_id)
    token = _sign_in(client, "lishi1")
    page = client.get(f"/foundation/hp/applications/{app_id}").get_data(as_text=True)
    assert 'name="score_need"' in page and "全部理事评分后才公开各人评分" in page
    marks = {"score_need": "4", "score_feasibility": "3", "score_participation": "5", "comment_need": "急需"}
    assert client.post(f"/foundation/hp/applications/{app_id}/scores", data=marks).status_code == 400
    answer = client.post(f"/foundation/hp/applications/{app_id}/scores", data={**marks, "csrf_token": token})
    assert answer.status_code == 302
    page = client.get(f"/foundation/hp/applications/{app_id}").get_data(as_text=True)
    assert "急需" in page and 'name="score_need"' not in page


def test_screens_need_a_sign_in_and_speak_english_on_request(client, district):
    assert client.get("/foundation/hp/").status_code == 302
    _sign_in(client, "supervisor")
    zh = client.get("/foundation/hp/").get_data(as_text=True)
    assert "微项目申请" in zh
    en = client.get("/foundation/hp/?lang=en").get_data(as_text=True)
    assert "Micro-project applications" in en and "Wish board" in en


def test_the_public_page_needs_no_login_and_shows_funded_projects_with_progress(client, district):
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district, amount=400_000)
    client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 150_000})
    client.post(f"{API}/applications/{app_id}/progress", headers=district.clerk,
                json={"reported_on": "2026-10-15", "percent": 40, "text": "已安装 2 个摄像头"})
    page = client.get("/p/hp/foundation")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "老旧楼栋安装监控" in text and "¥4,000.00" in text and "¥1,500.00" in text
    assert "已安装 2 个摄像头" in text and "40%" in text and "实施中" in text
    assert client.get("/p/nosuchbank/foundation").status_code == 404


def test_the_quarterly_report_counts_the_quarters_work_and_prints(client, district, session, tmp_path):
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district, amount=400_000)
    client.post(f"{API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 150_000})
    report = public.quarter_report(session, district.bank, 2026, 4)
    assert report["totals"] == {"applications": 1, "requested": 500_000, "awarded_count": 1,
                                "declined_count": 0, "awarded": 400_000, "disbursed": 150_000,
                                "spent": 0, "returned": 0, "wishes": 0, "inkind": 0}
    assert public.quarter_report(session, district.bank, 2026, 3)["totals"]["applications"] == 0
    pdf = client.get(f"{API}/reports/2026-Q4.pdf", headers=district.supervisor)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.data == client.get(f"{API}/reports/2026-Q4.pdf", headers=district.supervisor).data
    path = tmp_path / "q.pdf"
    path.write_bytes(pdf.data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "社区基金季度工作报告" in text and "老旧楼栋安装监控" in text and "¥4,000.00" in text
    assert client.get(f"{API}/reports/2026-Q5", headers=district.supervisor).status_code == 404


def test_the_rule_files_foundation_section_is_checked_with_lines():
    import rules
    book = rules.parse(FOUNDATION_RULES)
    assert [(c.code, c.weight) for c in book.foundation.criteria] == [
        ("need", 50), ("feasibility", 30), ("participation", 20)]
    assert (book.foundation.quorum, book.foundation.volunteer_rule, book.foundation.claim_days) == (
        3, "project_volunteer", 10)
    assert rules.parse(FOUNDATION_RULES.split("foundation:")[0]).foundation.quorum == 5
    bad = FOUNDATION_RULES.replace("weight: 30", "weight: 0").replace(
        "volunteer_rule: project_volunteer", "volunteer_rule: litter").replace("quorum: 3", "quorum: two")
    problems = [str(p) for p in rules.check(bad, "r.yaml")]
    assert any(re.match(r"r\.yaml:\d+: foundation\.criteria\[1\]\.weight: ", p) for p in problems), problems
    assert any("foundation.volunteer_rule: 规则 litter 是扣分规则" in p for p in problems)
    assert any("foundation.quorum" in p for p in problems)


def test_the_migration_builds_exactly_the_foundation_tables_the_models_describe(database_url):
    from sqlalchemy import create_engine

    from ..schema import model_diff

    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = model_diff(conn)
    engine.dispose()

    def table_of(change):
        change = change[0] if isinstance(change, list) else change
        for part in change[1:]:
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(part, "table", None)
            if table is not None:
                return table.name
            if isinstance(name, str) and name.startswith("foundation_"):
                return name
        return ""

    assert [d for d in diff if table_of(d).startswith("foundation_")] == []


def test_progress_photos_show_on_the_public_page_but_paper_forms_never_do(client, district, session, files):
    import io

    from .conftest import API as _API
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district)
    client.post(f"{_API}/applications/{app_id}/tranches", headers=district.clerk, json={"amount": 100_000})
    form = client.post(f"{_API}/applications/{app_id}/attachments", headers=district.clerk,
                       data={"kind": "paper_form", "file": (io.BytesIO(b"%PDF-1.4 private"), "form.pdf")},
                       content_type="multipart/form-data").get_json()
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    session.rollback()
    progress = money.add_progress(session, district.bank, app_id, reported_on=district.clock.today(),
                                  percent=30, text="开工", photos=[attachments.Upload("site.jpg", photo)],
                                  user=district.clerk_user, clock=district.clock, instance_path=str(files))
    [shot] = [a for a in attachments.attachments_of(session, app_id) if a.progress_id == progress.id]
    page = client.get("/p/hp/foundation").get_data(as_text=True)
    assert f"/p/hp/foundation/photos/{app_id}/{shot.id}" in page
    assert client.get(f"/p/hp/foundation/photos/{app_id}/{shot.id}").data == photo
    assert client.get(f"/p/hp/foundation/photos/{app_id}/{form['id']}").status_code == 404


def test_numbers_typed_on_the_foundation_screens_are_ascii_digits_within_bounds(client, district, session):
    """"٣" (an Arabic three) went through int(); 10^30 yuan past the fen bound; "²" is no number."""
    from sqlalchemy import func, select

    from foundation.models import Applicant, Application

    token = _sign_in(client, "clerk")
    for members in ("²", "٣", "99999999999999999999"):
        answer = client.post("/foundation/hp/applicants/new", data={
            "csrf_token": token, "kind": "group", "name": "志愿队", "members": f"{district.wang.id} {members}"})
        assert answer.status_code == 422 and "members" in answer.get_data(as_text=True), members
    for amount in ("٣٠٠", "1000000000000000000000000000000", "²"):
        answer = client.post("/foundation/hp/applications/new", data={
            "csrf_token": token, "applicant": "1", "title": "x", "purpose": "第一行\r\n第二行",
            "budget": "灯 12", "amount_requested": amount, "starts_on": "2026-11-01",
            "ends_on": "2026-11-30"})
        assert answer.status_code == 422 and "amount_requested" in answer.get_data(as_text=True), amount
    session.rollback()
    assert session.execute(select(func.count()).select_from(Applicant)).scalar() == 0
    assert session.execute(select(func.count()).select_from(Application)).scalar() == 0


def test_every_foundation_screen_draws_the_one_navigation_once(client, district, files):
    """The foundation's pages drew their own links after the shared navigation: 社区基金 twice."""
    _sign_in(client, "clerk")
    district.fund(restricted=1_000_000)
    app_id = awarded(client, district)
    wish = client.post(f"{API}/wishes", headers=district.clerk, json={
        "resident": district.wang.id, "title": "轮椅一辆", "description": "腿脚不便"}).get_json()
    for path in ("/foundation/hp/", "/foundation/hp/applicants/new", "/foundation/hp/applications/new",
                 f"/foundation/hp/applications/{app_id}", "/foundation/hp/wishes/new",
                 f"/foundation/hp/wishes/{wish['id']}"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        header = answer.get_data(as_text=True).split("<main>")[0]
        assert header.count("<nav") == 1 and header.count(">社区基金</a>") == 1, path


def test_the_state_names_follow_each_pages_language_whatever_page_came_before(app, client, district):
    """The macros' labels are built once per page: a page in English must not leave them English
    for the Chinese pages after it (nor the other way round)."""
    _sign_in(client, "clerk")

    def options(lang):
        page = client.get(f"/foundation/hp/?lang={lang}").get_data(as_text=True)
        return re.findall(r'<option value="draft"[^>]*>([^<]*)</option>', page)

    assert options("en") == ["Draft"]
    assert options("zh") == ["草稿"]
    assert options("en") == ["Draft"]
