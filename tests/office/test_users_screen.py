"""The bank's users on screen: who may manage them, bad input, disabling, tokens."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from ground.audit import AuditEntry
from ground.tenants import ApiToken, User

from .conftest import text

GOOD = {"password": "a long password", "password_again": "a long password"}


def _login(client, name, password) -> int:
    """Sign in through the sign-in page, CSRF token and all; return the answer's status."""
    page = text(client.get("/login"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token}).status_code


def _users(session) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(User)).scalar()


def test_the_user_list_opens_for_managers_and_the_supervisor_only(sign_in, village):
    for role, status in (("admin", 200), ("reviewer", 200), ("supervisor", 200), ("clerk", 403), ("desk", 403)):
        answer = sign_in(village["users"][role]).get("/banks/hp/users")
        assert answer.status_code == status, role
        if status == 200:
            page = text(answer)
            assert "<h1>用户</h1>" in page and "hp-clerk" in page and "记分员" in page and "兑换员" in page
            assert ('name="password_again"' in page) == (role in ("admin", "reviewer"))
    english = text(sign_in(village["users"]["reviewer"]).get("/banks/hp/users?lang=en"))
    assert "<h1>Users</h1>" in english and "desk operator" in english and "Password again" in english


def test_the_list_shows_the_last_sign_in_in_the_banks_time(sign_in, village, client):
    assert _login(client, "hp-desk", "correct horse battery") == 302
    page = text(sign_in(village["users"]["reviewer"]).get("/banks/hp/users"))
    row = re.search(r"hp-desk</a>.*?</tr>", page, re.S).group(0)
    assert "10月15日" in row and "10:00" in row            # 02:00 UTC is 10:00 in the village
    assert "从未登录" in re.search(r"hp-clerk</a>.*?</tr>", page, re.S).group(0)


def test_another_banks_users_answer_404(sign_in, village, make):
    other = make.bank("xz", "新庄村综治银行")
    stranger = make.user(other, "clerk", name="xz-clerk")
    reviewer = sign_in(village["users"]["reviewer"])
    assert reviewer.get("/banks/xz/users").status_code == 404
    assert reviewer.get(f"/banks/hp/users/{stranger.id}").status_code == 404
    assert reviewer.post(f"/banks/hp/users/{stranger.id}/active", data={"active": "0"}).status_code == 404
    admin = village["users"]["admin"]
    assert reviewer.get(f"/banks/hp/users/{admin.id}").status_code == 404   # the county's, not the bank's


def test_a_reviewer_adds_a_clerk_who_can_sign_in(sign_in, village, session, client):
    manager = "reviewer"
    answer = sign_in(village["users"][manager]).post("/banks/hp/users", data={
        "name": "新记分员", "role": "clerk", **GOOD})
    assert answer.status_code == 302
    session.rollback()
    made = session.execute(select(User).where(User.name == "新记分员")).scalar_one()
    assert made.role == "clerk" and made.bank_id == village["bank"].id
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "user_create",
                                                     AuditEntry.subject == f"user:{made.id}")).scalar_one()
    assert entry.actor == village["users"][manager].name and entry.bank_id == village["bank"].id
    assert _login(client, "新记分员", "a long password") == 302


BAD_USERS = [
    ({"name": "x", "role": "clerk", "password": "short", "password_again": "short"}, "password", "密码至少 8 个字符"),
    ({"name": "x", "role": "clerk", "password": "a long password", "password_again": "another one"},
     "password_again", "两次输入的密码不一致"),
    ({"name": "a\x00b", "role": "clerk", **GOOD}, "name", "用户名不能为空"),
    ({"name": "长" * 81, "role": "clerk", **GOOD}, "name", "最长 80 个字符"),
    ({"name": "", "role": "clerk", **GOOD}, "name", "请填写用户名"),
    ({"name": "hp-clerk", "role": "clerk", **GOOD}, "name", "该用户名已被使用"),
    ({"name": "x", "role": "mayor", **GOOD}, "role", "请选择角色"),
    ({"name": "x", "role": "admin", **GOOD}, "role", "县级管理员不能在银行页面设置"),
]

def test_a_bad_new_user_is_refused_beside_its_field_and_the_form_comes_back(sign_in, village, session):
    before = _users(session)
    admin = sign_in(village["users"]["admin"])
    for form, field, words in BAD_USERS:
        answer = admin.post("/banks/hp/users", data=form)
        page = text(answer)
        assert answer.status_code == 422, form
        # The message sits right after its field; the name comes back as typed, the passwords never.
        after_field = page.split(f'name="{field}"', 1)[1].split("<label", 1)[0]
        assert words in after_field, form
        assert "a long password" not in page and 'value="short"' not in page
        assert f'value="{form["role"]}" selected' in page or form["role"] in ("mayor", "admin")
    assert 'value="hp-clerk"' in text(admin.post("/banks/hp/users", data=BAD_USERS[5][0]))
    assert _users(session) == before


def test_a_reviewer_cannot_make_a_desk_operator_whose_power_it_lacks(sign_in, village, session):
    reviewer = sign_in(village["users"]["reviewer"])
    page = text(reviewer.get("/banks/hp/users"))
    options = re.findall(r'<option value="(\w+)"', page)
    assert options == ["clerk", "reviewer", "supervisor"]
    refused = reviewer.post("/banks/hp/users", data={"name": "兑换2", "role": "desk", **GOOD})
    assert refused.status_code == 422 and "不能给他人超出自己权限的角色" in text(refused)
    # Nor act on a desk operator: resetting their password would lend the reviewer the desk.
    desk = village["users"]["desk"]
    assert reviewer.post(f"/banks/hp/users/{desk.id}/password", data=GOOD).status_code == 403
    assert reviewer.post(f"/banks/hp/users/{desk.id}/tokens").status_code == 403
    assert _users(session) == 5


def test_staff_who_do_not_manage_cannot_add_or_change_users(sign_in, village, session):
    target = village["users"]["clerk"].id
    for role in ("clerk", "supervisor", "desk"):
        user = sign_in(village["users"][role])
        assert user.post("/banks/hp/users", data={"name": "x", "role": "clerk", **GOOD}).status_code == 403
        assert user.post(f"/banks/hp/users/{target}/active", data={"active": "0"}).status_code == 403
        assert user.post(f"/banks/hp/users/{target}/password", data=GOOD).status_code == 403
        assert user.post(f"/banks/hp/users/{target}/tokens").status_code == 403
    assert _users(session) == 5


def test_a_disabled_user_cannot_sign_in_and_their_session_and_token_end(sign_in, village, make, session,
                                                                        client, app):
    from web.auth import create_token

    clerk_user = village["users"]["clerk"]
    token = create_token(session, clerk_user.name, clock=make.clock)
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/banks/hp/rules", headers=headers).status_code == 200
    clerk_screen = sign_in(clerk_user)
    assert clerk_screen.get("/banks/hp/residents").status_code == 200

    reviewer = sign_in(village["users"]["reviewer"])
    assert reviewer.post(f"/banks/hp/users/{clerk_user.id}/active", data={"active": "0"}).status_code == 302
    assert app.test_client().get("/api/v1/banks/hp/rules", headers=headers).status_code == 401
    assert clerk_screen.get("/banks/hp/residents").status_code in (302, 401)
    assert _login(client, "hp-clerk", "correct horse battery") == 401
    assert "已停用" in text(reviewer.get("/banks/hp/users"))
    # Enabled again, they sign in; the old token stays revoked.
    assert reviewer.post(f"/banks/hp/users/{clerk_user.id}/active", data={"active": "1"}).status_code == 302
    assert _login(client, "hp-clerk", "correct horse battery") == 302
    assert app.test_client().get("/api/v1/banks/hp/rules", headers=headers).status_code == 401
    session.rollback()
    actions = session.execute(select(AuditEntry.action).where(AuditEntry.subject == f"user:{clerk_user.id}")
                              .order_by(AuditEntry.id)).scalars().all()
    assert actions[-2:] == ["user_disable", "user_enable"]
    log = text(reviewer.get("/banks/hp/audit"))
    assert "hp-reviewer 停用用户" in log and "hp-reviewer 启用用户" in log


def test_nobody_disables_themselves(sign_in, village):
    reviewer_user = village["users"]["reviewer"]
    answer = sign_in(reviewer_user).post(f"/banks/hp/users/{reviewer_user.id}/active", data={"active": "0"})
    assert answer.status_code == 409 and "不能停用自己" in text(answer)


def test_a_password_reset_needs_it_twice_and_ends_the_users_sessions(sign_in, village, client):
    clerk_user = village["users"]["clerk"]
    clerk_screen = sign_in(clerk_user)
    admin = sign_in(village["users"]["admin"])
    refused = admin.post(f"/banks/hp/users/{clerk_user.id}/password",
                         data={"password": "new long password", "password_again": "new long passw0rd"})
    assert refused.status_code == 422 and "两次输入的密码不一致" in text(refused)
    assert admin.post(f"/banks/hp/users/{clerk_user.id}/password",
                      data={"password": "short", "password_again": "short"}).status_code == 422
    assert clerk_screen.get("/banks/hp/residents").status_code == 200
    done = admin.post(f"/banks/hp/users/{clerk_user.id}/password",
                      data={"password": "new long password", "password_again": "new long password"})
    assert done.status_code == 302
    assert clerk_screen.get("/banks/hp/residents").status_code in (302, 401)
    assert _login(client, "hp-clerk", "correct horse battery") == 401
    assert _login(client, "hp-clerk", "new long password") == 302


def test_a_token_is_shown_once_listed_without_its_secret_and_revoked_at_once(sign_in, village, session, app):
    clerk_user = village["users"]["clerk"]
    admin = sign_in(village["users"]["admin"])
    issued = admin.post(f"/banks/hp/users/{clerk_user.id}/tokens", data={"expires_days": "30"})
    assert issued.status_code == 201
    secret = re.search(r'<section class="card" id="secret">.*?<code[^>]*>([^<]+)</code>', text(issued), re.S).group(1)
    headers = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/banks/hp/rules", headers=headers).status_code == 200
    page = text(admin.get(f"/banks/hp/users/{clerk_user.id}"))
    assert secret not in page and "11月14日" in page and "有效" in page     # expires in 30 days
    session.rollback()
    token = session.execute(select(ApiToken).where(ApiToken.user_id == clerk_user.id)).scalar_one()
    assert admin.post(f"/banks/hp/users/{clerk_user.id}/tokens/{token.id}/revoke").status_code == 302
    assert app.test_client().get("/api/v1/banks/hp/rules", headers=headers).status_code == 401
    assert "已吊销" in text(admin.get(f"/banks/hp/users/{clerk_user.id}"))
    # Another user's token, through this user's page, is 404.
    desk = village["users"]["desk"]
    assert admin.post(f"/banks/hp/users/{desk.id}/tokens/{token.id}/revoke").status_code == 404


def test_a_token_life_out_of_bounds_is_refused_by_name(sign_in, village, session):
    clerk_user = village["users"]["clerk"]
    admin = sign_in(village["users"]["admin"])
    for days in ("0", "3651", "²", "abc", "9" * 30):
        answer = admin.post(f"/banks/hp/users/{clerk_user.id}/tokens", data={"expires_days": days})
        assert answer.status_code == 422 and "须为 1 到 3650 之间的整数" in text(answer), days
        assert f'value="{days}"' in text(answer)
    session.rollback()
    assert session.execute(select(func.count()).select_from(ApiToken)).scalar() == 0


def test_the_navigation_links_users_for_exactly_the_roles_that_may_open_it(sign_in, village):
    for role in ("admin", "reviewer", "supervisor", "clerk", "desk"):
        nav = text(sign_in(village["users"][role]).get("/banks/hp/rules")).split('aria-label="导航"', 1)[1]
        nav = nav.split("</nav>", 1)[0]
        assert ('href="/banks/hp/users"' in nav) == (role in ("admin", "reviewer", "supervisor"))
        assert '>积分规则</a>' in nav
