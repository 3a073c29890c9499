"""The bank's rules on screen: the version in force, the history with diffs, loading a new file."""
from __future__ import annotations

import base64
import io
import re
import zlib

from sqlalchemy import func, select

from ground.audit import AuditEntry
from ledger.models import RuleVersion
from tests.conftest import RULES

from .conftest import text

#: The shared rules with patrol worth 3 points an hour instead of 2, and the litter rule gone.
CHANGED = RULES.replace("points: 2\n", "points: 3\n").split("  - code: litter")[0]
#: Two problems, each on its own line: a negative cap (line 9) and an unknown unit (line 14).
BROKEN = RULES.replace("caps: {day: 8, month: 60}", "caps: {day: -8, month: 60}").replace(
    "unit: 次\n", "unit: 桶\n", 1)


def _versions(session) -> int:
    session.rollback()
    return session.execute(select(func.count()).select_from(RuleVersion)).scalar()


def _upload(desk, content: bytes, name="rules.yaml"):
    return desk.post("/banks/hp/rules/load", data={"file": (io.BytesIO(content), name)},
                     content_type="multipart/form-data")


def test_every_role_of_the_bank_reads_the_rules_in_force(sign_in, village):
    for role in ("admin", "clerk", "reviewer", "supervisor", "desk"):
        page = text(sign_in(village["users"][role]).get("/banks/hp/rules"))
        assert "<h1>积分规则</h1>" in page and "第 1 版" in page, role
        row = re.search(r"<td>夜间巡逻</td>.*?</tr>", page, re.S).group(0)
        assert "社会治安" in row and "+2" in row and "小时" in row and "每日 8 · 每月 60" in row
        mediation = re.search(r"<td>调解纠纷</td>.*?</tr>", page, re.S).group(0)
        assert "是" in mediation and "只计入类别" in mediation
        assert ("载入新规则" in page) == (role in ("admin", "reviewer"))
        assert "test" in page        # loaded by
    english = text(sign_in(village["users"]["clerk"]).get("/banks/hp/rules?lang=en"))
    assert "<h1>Rules</h1>" in english and "in its category only" in english and "Version in force" in english


def test_only_the_reviewer_and_the_admin_may_load_and_another_bank_is_404(sign_in, village, make, session):
    make.bank("xz", "新庄村综治银行")
    for role in ("clerk", "supervisor", "desk"):
        desk = sign_in(village["users"][role])
        assert desk.get("/banks/hp/rules/load").status_code == 403
        assert _upload(desk, CHANGED.encode()).status_code == 403
    reviewer = sign_in(village["users"]["reviewer"])
    assert reviewer.get("/banks/hp/rules/load").status_code == 200
    assert reviewer.get("/banks/xz/rules").status_code == 404
    assert reviewer.get("/banks/xz/rules/load").status_code == 404
    assert reviewer.get("/banks/xz/rules/versions/1").status_code == 404
    assert reviewer.get("/banks/hp/rules/versions/2").status_code == 404
    assert _versions(session) == 2


def test_a_new_file_is_shown_as_a_diff_then_loaded_once_confirmed(sign_in, village, session):
    reviewer = sign_in(village["users"]["reviewer"])
    checked = _upload(reviewer, CHANGED.encode(), "新规则.yaml")
    page = text(checked)
    assert checked.status_code == 200 and _versions(session) == 1     # nothing loaded yet
    diff = page.split('id="diff"', 1)[1]
    changed = re.search(r"<td[^>]*>夜间巡逻</td>.*?</tr>", diff, re.S).group(0)
    assert "分值" in changed and "+2" in changed and "+3" in changed
    assert "删除规则" in diff and "乱扔垃圾" in diff
    content = re.search(r'name="content" value="([^"]+)"', page).group(1)
    base = re.search(r'name="base" value="([^"]+)"', page).group(1)

    loaded = reviewer.post("/banks/hp/rules/load", data={"content": content, "source": "新规则.yaml",
                                                         "base": base})
    assert loaded.status_code == 302 and _versions(session) == 2
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "rules_load",
                                                     AuditEntry.actor == "hp-reviewer")).scalar_one()
    assert entry.subject == "rules:2"
    screen = text(reviewer.get("/banks/hp/rules"))
    assert "已载入第 2 版规则" in screen and "新规则.yaml" in screen and "hp-reviewer" in screen
    assert "乱扔垃圾" not in screen.split("历史版本")[0]
    history = text(reviewer.get("/banks/hp/rules/versions/2"))
    assert "与第 1 版相比" in history and "+3" in history and "乱扔垃圾" in history

    # The same confirmation again, now against a stale version in force: shown afresh, nothing loaded.
    stale = reviewer.post("/banks/hp/rules/load", data={"content": content, "source": "x.yaml", "base": base})
    assert stale.status_code == 409 and "规则刚被他人更新" in text(stale)
    assert "与上一版相比没有变化" in text(stale) and _versions(session) == 2


def test_a_file_with_errors_shows_its_problems_by_line_and_loads_nothing(sign_in, village, session):
    admin = sign_in(village["users"]["admin"])
    answer = _upload(admin, BROKEN.encode())
    page = text(answer)
    assert answer.status_code == 422 and _versions(session) == 1
    problems = page.split('id="problems"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr><td>第 (\d+) 行</td><td><code>([^<]+)</code></td><td>([^<]+)</td></tr>", problems)
    import rules as rulefiles
    expected = rulefiles.check(BROKEN, "rules.yaml")            # what `zongzhi rules check` prints
    assert len(expected) == 2
    assert [(int(n), f, m) for n, f, m in rows] == [(p.line, p.field, p.message) for p in expected]
    assert {int(n) for n, _f, _m in rows} == {9, 14}
    assert 'name="content"' not in page                         # no confirmation offered


def test_bad_uploads_are_refused_and_change_nothing(sign_in, village, session):
    admin = sign_in(village["users"]["admin"])
    oversize = _upload(admin, b"# " + b"x" * (300 * 1024))
    assert oversize.status_code == 413
    just_over = _upload(admin, b"#" * (256 * 1024 + 1))          # within the envelope, over the file's limit
    assert just_over.status_code == 413
    latin = _upload(admin, RULES.replace("夜间巡逻", "nuit").encode("utf-8") + "é".encode("latin-1"))
    assert latin.status_code == 422 and "UTF-8" in text(latin)
    empty = admin.post("/banks/hp/rules/load", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "请选择规则文件" in text(empty)
    forged = admin.post("/banks/hp/rules/load", data={"content": "not base64!", "base": "x"})
    assert forged.status_code == 422 and "请重新选择规则文件" in text(forged)

    def packed(data: bytes) -> str:
        return base64.b64encode(zlib.compress(data)).decode()

    nul = admin.post("/banks/hp/rules/load", data={"content": packed(b"a\x00b"), "base": "x"})
    assert nul.status_code == 422 and 'id="problems"' in text(nul)
    bomb = admin.post("/banks/hp/rules/load", data={"content": packed(b"#" * (2 * 1024 * 1024)), "base": "x"})
    assert bomb.status_code == 413
    # A few hundred bytes of YAML aliases that would unfold to gigabytes: refused by their line.
    laughs = ['a: &a ["x","x","x","x","x","x","x","x","x"]'] + [
        f"{n}: &{n} [" + ",".join([f"*{b}"] * 9) + "]" for b, n in zip("abcdefghi", "bcdefghij")]
    aliases = _upload(admin, "\n".join(laughs).encode())
    assert aliases.status_code == 422 and "YAML 别名" in text(aliases)
    assert _versions(session) == 1


def test_a_file_just_under_the_limit_is_checked_and_confirmed(sign_in, village, session):
    admin = sign_in(village["users"]["admin"])
    big = (RULES.replace("points: 2\n", "points: 4\n") + "# " + "说明" * 43_000 + "\n").encode()
    assert 250 * 1024 < len(big) <= 256 * 1024
    page = text(_upload(admin, big))
    content = re.search(r'name="content" value="([^"]+)"', page).group(1)
    base = re.search(r'name="base" value="([^"]+)"', page).group(1)
    assert admin.post("/banks/hp/rules/load", data={"content": content, "base": base}).status_code == 302
    assert _versions(session) == 2


def test_loading_the_version_in_force_again_changes_nothing(sign_in, village, session):
    admin = sign_in(village["users"]["admin"])
    page = text(_upload(admin, RULES.encode()))
    assert "与上一版相比没有变化" in page
    content = re.search(r'name="content" value="([^"]+)"', page).group(1)
    base = re.search(r'name="base" value="([^"]+)"', page).group(1)
    assert admin.post("/banks/hp/rules/load", data={"content": content, "base": base}).status_code == 302
    assert "与现行版本相同，未作改动" in text(admin.get("/banks/hp/rules"))
    assert _versions(session) == 1
