"""The bank's rules on screen (积分规则): the version in force, the history with diffs, loading a new file.

Loading runs the same check as `zongzhi rules check` and shows every problem by line with
nothing changed; a clean file is shown as a diff against the version in force and installed,
once confirmed, by the same service as `zongzhi rules load`.
"""
from __future__ import annotations

import base64
import binascii
import zlib

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

import rules as rulefiles
from ledger import banks
from ground.db import get_session
from ground.errors import NotFound, TooLarge, ZongzhiError
from rules import bounds
from rules.diff import diff
from web import uploads
from web.api import clock
from web.auth import EVERY_ROLE, REVIEWERS, scoped_bank

from .views import _refusal, _render, bp

#: Who may read the rules (as `GET /api/v1/banks/{bank}/rules`) and who may load a new version.
RULE_READERS, RULE_LOADERS = EVERY_ROLE, REVIEWERS
#: A rule file uploaded on screen: the seed file is 5 KB. The confirmation carries it back
#: compressed (a text file shrinks several times over, so even one at the limit fits the request).
UPLOAD_MAX = 256 * 1024

FIELDS = {"name": _l("名称"), "category": _l("类别"), "points": _l("分值"), "unit": _l("单位"),
          "caps": _l("上限"), "review": _l("需审核"), "notice": _l("公示方式"), "evidence": _l("须附照片"),
          "valid_from": _l("生效日"), "valid_until": _l("失效日"), "description": _l("说明")}
SETTINGS = {"account_unit": _l("积分记入"), "negative_balance_may_redeem": _l("负分可兑换"),
            "categories": _l("类别"), "point_value_fen": _l("每分价值（分）"),
            "coverage_warning_percent": _l("基金覆盖率预警（%）"), "expiry": _l("积分清零"),
            "cycle.day_close": _l("每日结账时间"), "cycle.notice_day": _l("公示日"),
            "cycle.notice_time": _l("公示时间"), "cycle.objection_days": _l("异议天数"),
            "cycle.redemption_months": _l("兑换月份"), "cycle.redemption_days": _l("兑换天数"),
            "cycle.commendation_month": _l("表彰月份"), "cycle.commendation_day": _l("表彰日"),
            "cycle.backdate_days": _l("最多补登天数"), "cycle.titles": _l("表彰称号")}
NOTICE = {"full": _l("明细公示"), "category_only": _l("只计入类别"), "hidden": _l("不单列")}
CAPS = {"day": _l("每日"), "week": _l("每周"), "month": _l("每月"), "year": _l("每年")}


def _page(template, status=200, **context):
    return _render(template, status, fields=FIELDS, settings_names=SETTINGS, notice_names=NOTICE,
                   cap_names=CAPS, **context)


@bp.get("/banks/<bank>/rules")
def rules_screen(bank):
    """The version in force with each of its rules, and every version loaded before."""
    bank, user = scoped_bank(bank, RULE_READERS)
    session = get_session()
    current, book = banks.rulebook(session, bank.id)
    versions = banks.rule_versions(session, bank.id)
    return _page("rules.html", bank=bank, book=book, versions=versions, current=versions[0],
                 may_load=user.role in RULE_LOADERS)


@bp.get("/banks/<bank>/rules/versions/<int:version>")
def rules_version(bank, version):
    """One version against the one before it: rules added, removed, and changed field by field."""
    bank, _user = scoped_bank(bank, RULE_READERS)
    session = get_session()
    versions = {v.version: v for v in banks.rule_versions(session, bank.id)}
    if version not in versions:
        raise NotFound(_("找不到该规则版本"))
    after = banks.parsed_version(banks.stored_version(session, bank.id, version))
    before = (banks.parsed_version(banks.stored_version(session, bank.id, version - 1))
              if version - 1 in versions else None)
    return _page("rules_version.html", bank=bank, shown=versions[version], changes=diff(before, after),
                 previous=versions.get(version - 1))


@bp.route("/banks/<bank>/rules/load", methods=["GET", "POST"])
@uploads.limit(UPLOAD_MAX)
def rules_load(bank):
    """Check an uploaded rule file, show its problems by line or its diff, and load it once confirmed."""
    bank, user = scoped_bank(bank, RULE_LOADERS)
    session = get_session()
    current, book = banks.rulebook(session, bank.id)
    context = {"bank": bank, "current": current, "problems": [], "changes": None, "message": None,
               "fields_problems": {}, "encoded": None, "source": None}
    if request.method == "GET":
        return _page("rules_load.html", **context)
    confirming = "content" in request.form
    source, text, refused = _confirmed() if confirming else _uploaded()
    context["source"] = source
    if refused:
        context["fields_problems"] = {"file": [refused]}
        return _page("rules_load.html", 422, **context)
    problems = rulefiles.check(text, source)
    if problems:
        context["problems"] = problems
        return _page("rules_load.html", 422, **context)
    context["changes"] = diff(book, rulefiles.parse(text, source))
    context["encoded"] = base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")
    if not confirming:
        return _page("rules_load.html", **context)
    if request.form.get("base") != current.content_hash:
        # Someone loaded another version since this diff was shown: show it against that one.
        context["message"] = _("规则刚被他人更新，下面的差异已按现行版本重新列出，请再核对后确认")
        return _page("rules_load.html", 409, **context)
    try:
        version = banks.load_rules(session, bank, text, source_name=source, by=user.name, clock=clock())
    except ZongzhiError as err:
        context["message"], context["fields_problems"] = _refusal(err)
        return _page("rules_load.html", err.status, **context)
    if version.version == current.version:
        flash(_("与现行版本相同，未作改动"))
    else:
        flash(_("已载入第 %(n)d 版规则", n=version.version))
    return redirect(url_for("office.rules_screen", bank=bank.code))


def _source(name: str | None) -> str:
    name = (name or "").strip()
    return name if name and bounds.text_problem(name, max_len=255) is None else "upload.yaml"


def _decoded(data: bytes) -> tuple[str, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return "", _("规则文件须为 UTF-8 编码的文本")


def _uploaded() -> tuple[str, str, str | None]:
    """Return the uploaded file's name and text, or why it cannot be read."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return "upload.yaml", "", _("请选择规则文件（.yaml）")
    data = upload.stream.read(UPLOAD_MAX + 1)
    if len(data) > UPLOAD_MAX:
        raise TooLarge("file", UPLOAD_MAX)
    return (_source(upload.filename), *_decoded(data))


def _confirmed() -> tuple[str, str, str | None]:
    """Return the name and text of the file the confirmation carries back."""
    try:
        packed = base64.b64decode(request.form.get("content", ""), validate=True)
        unpacking = zlib.decompressobj()
        # Never more than the limit is unpacked, however small the packed form.
        data = unpacking.decompress(packed, UPLOAD_MAX + 1)
    except (binascii.Error, ValueError, zlib.error):
        return "upload.yaml", "", _("请重新选择规则文件")
    if len(data) > UPLOAD_MAX or unpacking.unconsumed_tail:
        raise TooLarge("file", UPLOAD_MAX)
    return (_source(request.form.get("source")), *_decoded(data))
