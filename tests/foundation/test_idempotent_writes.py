"""Every creating or acting write of the foundation's API honours the Idempotency-Key: the same key
and body answers the first answer and writes nothing, another request under it is 409, and the
key is the sender's own."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

import pytest
from sqlalchemy import func, select

from foundation.models import (Applicant, Application, Attachment, Claim, Decision, PanelSeat, Progress,
                               Score, Transition, Wish)
from ground.audit import AuditEntry
from ground.clock import FixedClock
from ledger.models import IdempotencyRecord

from ..retrying import KeyedWrite
from .conftest import API, application, decision, fast_user, score_all, station

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@dataclass
class Write(KeyedWrite):
    """A write of the foundation's API, and the two users who send it."""

    #: The headers of the first user and of the second, both of a role that may make the write.
    users: tuple[dict, dict]
    status: int = 201
    upload: bool = False
    #: What makes the second user's request a write of its own, when the first one's left none to make.
    between: Callable[[], None] | None = None
    #: Another request of the first user, when the second user's is the same request as the first.
    mismatch: tuple[str, dict | None] | None = None


class Foundation:
    """What a write is set up with: the district, the client that sets it up, and a second clerk."""

    def __init__(self, client, district, session, app):
        from web.auth import create_token

        self.client, self.district, self.session, self.app = client, district, session, app
        clerk = fast_user(session, district.bank, "clerk", "clerk2", district.clock)
        self.clerks = (district.clerk,
                       {"Authorization": f"Bearer {create_token(session, clerk.name, clock=district.clock)}"})
        self.council = (district.reviewers[0][1], district.reviewers[1][1])

    def count(self, model, *where) -> int:
        self.session.rollback()  # see what the requests committed
        return self.session.execute(select(func.count()).select_from(model).where(*where)).scalar()

    def post(self, path, headers=None, body=None, status=200) -> dict:
        answer = self.client.post(f"{API}{path}", headers=headers or self.district.clerk, json=body)
        assert answer.status_code == status, answer.get_json()
        return answer.get_json()

    def drafts(self, n=2) -> list[int]:
        applicant = station(self.client, self.district)
        return [application(self.client, self.district, applicant)["id"] for _ in range(n)]

    def moved(self, *actions, n=2) -> list[int]:
        ids = self.drafts(n)
        for app_id in ids:
            for action in actions:
                self.post(f"/applications/{app_id}/{action}")
        return ids

    def awarded(self, n=2) -> list[int]:
        self.district.fund(restricted=1_000_000)
        ids = self.moved("submit", "screen", "review", n=n)
        for app_id in ids:
            score_all(self.client, self.district, app_id)
            self.post(f"/applications/{app_id}/decision", self.council[0], decision(amount=400_000), 201)
        return ids

    def completed(self, n=2) -> list[int]:
        ids = self.awarded(n)
        for app_id in ids:
            self.post(f"/applications/{app_id}/tranches", body={"amount": 100_000}, status=201)
            self.post(f"/applications/{app_id}/completion", status=201, body={
                "spent": [{"item": "摄像头", "amount": 100_000}], "report": "全部装好"})
        return ids

    def wishes(self, *steps, n=2) -> list[int]:
        ids = [self.post("/wishes", body={"resident": self.district.wang.id, "title": f"助听器 {i}",
                                          "description": "听不清", "estimated_value": 30_000}, status=201)["id"]
               for i in range(n)]
        for wish_id in ids:
            for step in steps:
                self.post(f"/wishes/{wish_id}/{step}", self.council[0] if step == "verify" else None)
        return ids

    def at(self, day: int) -> None:
        """Move the app's clock to that day of October 2026, at the same hour."""
        at = self.district.clock.at
        self.app.extensions["zongzhi.clock"] = FixedClock(at=at + timedelta(days=day - at.day))


def _applicants(f):
    d = f.district
    return Write("/applicants", {"kind": "station", "name": "南湖社区公益站", "members": [d.li.id]},
                 "/applicants", {"kind": "group", "name": "王家互助组", "members": [d.wang.id]},
                 lambda: f.count(Applicant), f.clerks)


def _applications(f):
    applicant = station(f.client, f.district)
    body = {"applicant": applicant["id"], "title": "老旧楼栋安装监控", "purpose": "夜间失窃多",
            "budget": [{"item": "摄像头", "amount": 300_000}], "amount_requested": 300_000,
            "starts_on": "2026-11-01", "ends_on": "2027-01-31"}
    return Write("/applications", body, "/applications", {**body, "title": "村口路灯"},
                 lambda: f.count(Application), f.clerks)


def _move(action, before, role="clerk"):
    def build(f):
        first, second = before(f)
        users = f.council if role == "council" else f.clerks
        return Write(f"/applications/{first}/{action}", None, f"/applications/{second}/{action}",
                     {"note": "第二件"}, lambda: f.count(Transition, Transition.action == action), users,
                     status=200)
    return build


def _attachments(f):
    [app_id] = f.drafts(1)
    path = f"/applications/{app_id}/attachments"
    return Write(path, JPEG, path, JPEG + b"another", lambda: f.count(Attachment), f.clerks, upload=True)


def _progress(f):
    [app_id] = f.awarded(1)
    f.post(f"/applications/{app_id}/start")
    path = f"/applications/{app_id}/progress"
    body = {"reported_on": "2026-10-15", "percent": 30, "text": "摄像头已装好 2 个"}
    return Write(path, body, path, {**body, "percent": 60}, lambda: f.count(Progress), f.clerks)


def _scores(f):
    [app_id] = f.moved("submit", "screen", "review", n=1)
    path = f"/applications/{app_id}/scores"

    def marks(*scores):
        return {"scores": [{"criterion": c, "score": s, "comment": "好"}
                           for c, s in zip(("need", "feasibility", "participation"), scores)]}
    return Write(path, marks(4, 3, 5), path, marks(2, 2, 2),
                 lambda: f.count(select(Score.user_id).distinct().subquery()), f.council)


def _conflict(f):
    [app_id] = f.moved("submit", "screen", "review", n=1)
    path = f"/applications/{app_id}/conflict"
    return Write(path, {"note": "申请人是我表亲"}, path, {"note": "我在该公益站做过账"},
                 lambda: f.count(PanelSeat, PanelSeat.declared_conflict.is_(True)), f.council, status=200)


def _decision(f):
    f.district.fund(restricted=1_000_000)
    ids = f.moved("submit", "screen", "review")
    for app_id in ids:
        score_all(f.client, f.district, app_id)
    return Write(f"/applications/{ids[0]}/decision", decision(amount=400_000),
                 f"/applications/{ids[1]}/decision", decision(amount=300_000),
                 lambda: f.count(Decision), f.council)


def _wishes(f):
    body = {"resident": f.district.wang.id, "title": "一台助听器", "description": "听不清孙子说话",
            "estimated_value": 30_000}
    return Write("/wishes", body, "/wishes", {**body, "title": "一副老花镜"}, lambda: f.count(Wish), f.clerks)


def _wish_move(action, steps, state, role="clerk"):
    def build(f):
        first, second = f.wishes(*steps)
        body = {"reason": "不属于困难群众"} if action == "reject" else None
        other = {"reason": "重复登记"} if action == "reject" else None
        return Write(f"/wishes/{first}/{action}", body, f"/wishes/{second}/{action}", other,
                     lambda: f.count(Wish, Wish.state == state),
                     f.council if role == "council" else f.clerks, status=200)
    return build


def _claims(f):
    first, second = f.wishes("verify", "publish")
    return Write(f"/wishes/{first}/claims", {"donors": [{"resident": f.district.li.id}]},
                 f"/wishes/{second}/claims", {"donors": [{"resident": f.district.zhou.id}]},
                 lambda: f.count(Claim), f.clerks)


def _expire(f):
    """Two claims, one due on the 15th and one on the 16th: each day's run puts back one wish."""
    first, second = f.wishes("verify", "publish")
    for wish_id, deadline in ((first, "2026-10-15"), (second, "2026-10-16")):
        f.post(f"/wishes/{wish_id}/claims", body={"donors": [{"resident": f.district.li.id}],
                                                  "deadline": deadline}, status=201)
    f.at(16)
    return Write("/wishes/expire", None, "/wishes/expire", None,
                 lambda: f.count(Claim, Claim.status == "expired"), f.clerks, status=200,
                 between=lambda: f.at(17), mismatch=("/wishes", {
                     "resident": f.district.wang.id, "title": "一台助听器", "description": "听不清"}))


WRITES = {
    "applicants": _applicants,
    "applications": _applications,
    "submit": _move("submit", lambda f: f.drafts()),
    "screen": _move("screen", lambda f: f.moved("submit")),
    "review": _move("review", lambda f: f.moved("submit", "screen")),
    "start": _move("start", lambda f: f.awarded()),
    "close": _move("close", lambda f: f.completed(), role="council"),
    "withdraw": _move("withdraw", lambda f: f.drafts()),
    "attachments": _attachments,
    "progress": _progress,
    "scores": _scores,
    "conflict": _conflict,
    "decision": _decision,
    "wishes": _wishes,
    "wish_verify": _wish_move("verify", (), "verified", role="council"),
    "wish_reject": _wish_move("reject", (), "rejected", role="council"),
    "wish_publish": _wish_move("publish", ("verify",), "published"),
    "claims": _claims,
    "expire": _expire,
}


@pytest.fixture
def foundation(client, district, session, app):
    return Foundation(client, district, session, app)


@pytest.fixture(params=list(WRITES))
def write(request, foundation) -> Write:
    return WRITES[request.param](foundation)


@pytest.fixture
def written(foundation):
    """Counts what any write leaves behind: its audit entries and the outcomes kept under keys."""
    return lambda: (foundation.count(AuditEntry), foundation.count(IdempotencyRecord))


def _send(client, headers, path, body, *, upload=False, key=None):
    headers = {**headers, **({"Idempotency-Key": key} if key else {})}
    if upload:
        return client.post(f"{API}{path}", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(body), "p.jpg"), "kind": "photo"})
    if body is None:
        return client.post(f"{API}{path}", headers=headers)
    return client.post(f"{API}{path}", headers=headers, json=body)


def test_the_same_key_and_body_again_answers_the_first_answer_and_writes_nothing(client, write, written):
    mine = write.users[0]
    before = write.rows()
    first = _send(client, mine, write.path, write.body, upload=write.upload, key="retry-1")
    assert first.status_code == write.status, first.get_json()
    assert write.rows() == before + 1
    after_first = written()
    again = _send(client, mine, write.path, write.body, upload=write.upload, key="retry-1")
    assert again.status_code == first.status_code
    assert again.get_json() == first.get_json()
    assert write.rows() == before + 1 and written() == after_first


def test_the_same_key_with_another_request_is_409_and_writes_nothing(client, write, written):
    mine = write.users[0]
    _send(client, mine, write.path, write.body, upload=write.upload, key="retry-2")
    after_first = write.rows(), written()
    path, body = write.mismatch or (write.other_path, write.other_body)
    refused = _send(client, mine, path, body, upload=write.upload and not write.mismatch, key="retry-2")
    assert refused.status_code == 409 and refused.get_json()["error"] == "idempotency_mismatch"
    assert (write.rows(), written()) == after_first


def test_another_users_request_with_the_same_key_is_a_write_of_its_own(client, write):
    mine, theirs = write.users
    _send(client, mine, write.path, write.body, upload=write.upload, key="retry-3")
    after_first = write.rows()
    if write.between:
        write.between()
    other = _send(client, theirs, write.other_path, write.other_body, upload=write.upload, key="retry-3")
    assert other.status_code == write.status, other.get_json()
    assert write.rows() == after_first + 1


def test_an_attachment_retried_under_its_key_keeps_one_file(client, foundation, files):
    [app_id] = foundation.drafts(1)
    path = f"/applications/{app_id}/attachments"
    answers = [_send(client, foundation.district.clerk, path, JPEG, upload=True, key="upload-1")
               for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[1].get_json() == answers[0].get_json()
    assert len([p for p in files.rglob("*") if p.is_file()]) == 1


def test_expiring_again_under_its_key_answers_the_wishes_the_first_run_put_back(client, foundation):
    write = _expire(foundation)
    headers = {**foundation.district.clerk, "Idempotency-Key": "expire-1"}
    first = client.post(f"{API}{write.path}", headers=headers).get_json()
    foundation.at(17)  # the second claim is overdue now, but the retry is the first run's answer
    again = client.post(f"{API}{write.path}", headers=headers).get_json()
    assert again == first and len(first["wishes"]) == 1
    assert write.rows() == 1
