"""Fixtures for the foundation: a district bank with reviewers, applicants, and money in the fund."""
from __future__ import annotations

import pytest

from ..conftest import RULES

FOUNDATION_RULES = RULES + """\
  - code: project_volunteer
    name: 微项目志愿服务
    category: 道德文化
    points: 2
    unit: 小时
    caps: {day: 16}
  - code: wish_donor
    name: 认领微心愿
    category: 道德文化
    points: 5
foundation:
  criteria:
    - {code: need, name: 居民需求, weight: 50}
    - {code: feasibility, name: 可行性, weight: 30}
    - {code: participation, name: 居民参与, weight: 20}
  quorum: 3
  volunteer_rule: project_volunteer
  donor_rule: wish_donor
  claim_days: 10
"""

API = "/api/v1/banks/hp/foundation"


class District:
    """A bank with a clerk, a supervisor, three reviewers (one of them a resident), residents in
    households, and a welfare station whose members include the reviewer's household."""

    def __init__(self, make, session, clock):
        from web.auth import create_token

        self.make, self.session, self.clock = make, session, clock
        self.bank = make.bank(rules=FOUNDATION_RULES)
        self.wang_home = make.household(self.bank, "W01", "王家")
        self.li_home = make.household(self.bank, "L01", "李家")
        self.wang = make.resident(self.bank, "王大明", self.wang_home, phone="13812345678")
        self.wang_wife = make.resident(self.bank, "赵小红", self.wang_home)
        self.li = make.resident(self.bank, "李四", self.li_home)
        self.zhou = make.resident(self.bank, "周五")

        def user(role, name):
            u = fast_user(session, self.bank, role, name, clock)
            return u, {"Authorization": f"Bearer {create_token(session, u.name, clock=clock)}"}

        self.clerk_user, self.clerk = user("clerk", "clerk")
        self.supervisor_user, self.supervisor = user("supervisor", "supervisor")
        self.reviewers = [user("reviewer", f"lishi{i}") for i in range(3)]

    def fund(self, restricted=0, unrestricted=0):
        """Put money in the fund the way the fund's receipts do: straight through the ledger."""
        from ledger import accounts
        from ground.db import transaction
        from ledger.models import CNY
        from ledger.posting import Draft, post

        with transaction(self.session):
            town = accounts.system_account(self.session, self.bank.id, CNY, "source:town")
            drafts = [Draft(ledger=CNY, debit_id=town.id,
                            credit_id=accounts.system_account(self.session, self.bank.id, CNY, code).id,
                            amount=amount, kind="receipt", occurred_on=self.clock.today(), memo="镇投入")
                      for code, amount in (("fund:projects", restricted), ("fund", unrestricted)) if amount]
            post(self.session, self.bank.id, drafts, by="test", clock=self.clock)

    def balance(self, code, ledger="CNY"):
        from sqlalchemy import select

        from ledger.models import Account

        self.session.rollback()
        return self.session.execute(select(Account.balance).where(
            Account.bank_id == self.bank.id, Account.ledger == ledger, Account.code == code)).scalar() or 0


def fast_user(session, bank, role, name, clock):
    """A user with a cheap password hash: scrypt makes five users per test take a second."""
    from werkzeug.security import generate_password_hash

    from ground.db import transaction
    from ground.tenants import User

    with transaction(session):
        user = User(name=name, bank_id=bank.id, role=role, created_at=clock.now(),
                    password_hash=generate_password_hash("correct horse battery", "pbkdf2:sha256:1"))
        session.add(user)
    return user


@pytest.fixture
def files(app, tmp_path):
    """Attachments go to the test's own folder, not the real instance folder."""
    app.config["FOUNDATION_FILES"] = str(tmp_path / "instance")
    return tmp_path / "instance"


@pytest.fixture
def district(make, session, clock, files):
    return District(make, session, clock)


def station(client, district, members=None, name="南湖社区公益站"):
    answer = client.post(f"{API}/applicants", headers=district.clerk, json={
        "kind": "station", "name": name,
        "members": members or [district.li.id]})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def application(client, district, applicant, amount=500_000, **extra):
    body = {"applicant": applicant["id"], "title": "老旧楼栋安装监控", "purpose": "楼栋无人管，夜间失窃多",
            "budget": [{"item": "摄像头 6 个", "amount": amount - 100_000}, {"item": "安装", "amount": 100_000}],
            "amount_requested": amount, "starts_on": "2026-11-01", "ends_on": "2027-01-31", **extra}
    answer = client.post(f"{API}/applications", headers=district.clerk, json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def to_review(client, district, app_id):
    for action in ("submit", "screen", "review"):
        answer = client.post(f"{API}/applications/{app_id}/{action}", headers=district.clerk)
        assert answer.status_code == 200, answer.get_json()


def score_all(client, district, app_id, marks=(4, 3, 5), reviewers=None):
    for _user, headers in reviewers or district.reviewers:
        answer = client.post(f"{API}/applications/{app_id}/scores", headers=headers, json={"scores": [
            {"criterion": c, "score": s, "comment": "好"} for c, s in zip(("need", "feasibility", "participation"), marks)]})
        assert answer.status_code == 201, answer.get_json()


def decision(**extra):
    return {"met_on": "2026-10-14", "attendees": ["王理事", "李理事", "周理事", "赵理事"],
            "votes_for": 3, "votes_against": 1, "abstaining": 0, "minutes": "同意资助，分两期拨付",
            "outcome": "awarded", "amount": 400_000, **extra}


def awarded(client, district, amount=400_000, requested=500_000):
    """An application through review and awarded; returns its id."""
    app_id = application(client, district, station(client, district), amount=requested)["id"]
    to_review(client, district, app_id)
    score_all(client, district, app_id)
    answer = client.post(f"{API}/applications/{app_id}/decision", headers=district.reviewers[0][1],
                         json=decision(amount=amount))
    assert answer.status_code == 201, answer.get_json()
    return app_id
