"""The audit screen's words: every entry as a Chinese sentence, with its details laid out.

The log stores stable codes (`application_award`, `rule:litter`, `{"residents": [5]}`) so that it
can be searched and never changes meaning; this module is the one place that says them in words:
ACTIONS for action codes, FAMILIES for codes built as a prefix and a step (the foundation's steps
among them, FOUNDATION_STEPS; its states, FOUNDATION_STATES), SUBJECTS for the kind of thing acted
on, DETAILS for the keys of the detail. A code missing here still shows (as itself), so a new
action is never hidden.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

from ground.i18n import _, current_language
from ledger import formatting
from rules import bounds

from foundation.errors import ACTION_NAMES as FOUNDATION_STEPS, STATE_NAMES as FOUNDATION_STATES
from web.users import ROLE_NAMES

#: Action codes in words.
ACTIONS = {
    "login": _("登录"), "login_failed": _("登录失败"), "logout": _("退出"), "deed": _("登分"), "penalty": _("扣分"),
    "deed_pending": _("登分（待审核）"), "approve": _("审核通过"), "reject": _("审核驳回"), "reversal": _("冲正"),
    "rules_load": _("载入规则"), "bank_create": _("开设银行"), "roster_import": _("导入名册"),
    "resident_create": _("登记居民"), "resident_update": _("修改居民"), "resident_deactivate": _("停用居民"),
    "resident_activate": _("恢复居民"), "resident_move": _("迁户"), "household_create": _("登记户"),
    "household_update": _("修改户"), "token_create": _("发放令牌"), "token_revoke": _("吊销令牌"),
    "user_create": _("添加用户"), "user_disable": _("停用用户"), "user_enable": _("启用用户"),
    "password_reset": _("重设密码"), "objection": _("登记异议"), "objection_uphold": _("支持异议"),
    "objection_reject": _("驳回异议"), "seal": _("封账"), "expiry": _("积分清零"), "cards_issue": _("发放积分卡"),
    "card_revoke": _("作废积分卡"), "redemption": _("兑换"), "catalog_add": _("新增兑换物品"),
    "catalog_change": _("修改兑换物品"), "fund_receipt": _("登记基金收入"), "window_open": _("开放兑换期"),
    "window_close": _("关闭兑换期"), "applicant_create": _("登记申请方"), "application_create": _("录入微项目申请"),
    "attachment_add": _("上传附件"), "score": _("评审打分"), "conflict_declare": _("申明回避"),
    "reviewer_link": _("关联理事"), "tranche": _("拨付资金"), "progress": _("报告进展"), "wish_claim": _("认领微心愿"),
    "wish_claim_expire": _("微心愿认领过期"), "wish_collect": _("征集微心愿"), "wish_confirm": _("确认微心愿已实现"),
    "wish_deliver": _("送达微心愿"),
}

#: Action codes built as prefix + step: (the phrase, given the step in words; the steps).
FAMILIES = {
    "application_": (lambda step: _("%(step)s微项目申请", step=step), FOUNDATION_STEPS),
    "wish_": (lambda step: _("%(step)s微心愿", step=step), FOUNDATION_STEPS),
    "freeze_": (lambda step: _("封存%(step)s", step=step),
                {"day": _("日登分簿"), "notice": _("月公示"), "quarter": _("季度汇总"), "year": _("年度表彰")}),
    "stock_": (lambda step: _("%(step)s入库", step=step), {"purchase": _("采购"), "donation": _("捐赠")}),
}

#: The kinds of thing an entry is about ("rule:litter" is about a rule).
SUBJECTS = {
    "rule": _("规则"), "rules": _("规则文件"), "transfer": _("流水"), "resident": _("居民"), "household": _("户"),
    "pending": _("待审核登分"), "application": _("微项目申请"), "applicant": _("申请方"), "wish": _("微心愿"),
    "item": _("兑换物品"), "receipt": _("收入"), "redemption": _("兑换"), "window": _("兑换期"),
    "objection": _("异议"), "month": _("月份"), "day": _("日期"), "notice": _("公示"), "quarter": _("季度"),
    "year": _("年度"), "token": _("令牌"), "user": _("用户"), "bank": _("银行"), "cards": _("积分卡"),
    "roster": _("名册"), "ip": _("地址"),
}

#: The detail's keys in words.
DETAILS = {
    "residents": _("居民"), "resident": _("居民"), "members": _("成员"), "quantity": _("数量"),
    "points": _("积分"), "occurred_on": _("发生日期"), "transfers": _("流水"), "transfer": _("流水"),
    "pending": _("待审核"), "reversal": _("冲正记录"), "reason": _("原因"), "note": _("备注"), "from": _("原状态"),
    "to": _("新状态"), "hash": _("快照哈希"), "head_seq": _("链头序号"), "head_hash": _("链头哈希"), "amount": _("金额"),
    "amount_fen": _("金额"), "amount_requested": _("申请金额"), "value_fen": _("价值"), "donor": _("捐赠人"),
    "donors": _("认领人"), "source": _("来源"), "sku": _("物品"), "items": _("物品"), "name": _("名称"),
    "code": _("编号"), "kind": _("类型"), "month": _("月份"), "opens_on": _("开始日期"), "closes_on": _("结束日期"),
    "percent": _("进度"), "photos": _("照片"), "accounts": _("账户"), "active": _("在册"), "before": _("修改前"),
    "after": _("修改后"), "changed": _("修改项"), "created": _("新增"), "updated": _("更新"), "revoked": _("作废"),
    "expires_at": _("到期"), "household": _("户"), "user": _("用户"), "rules_version": _("规则版本"),
    "correction": _("更正"), "claim": _("认领"), "gifts": _("捐赠"), "role": _("角色"),
}

#: Keys whose values are fen, shown as yuan.
_MONEY = {"amount", "amount_fen", "amount_requested", "value_fen"}
#: Keys whose values are foundation states.
_STATES = {"from", "to"}
#: Keys whose values are days (stored as 2026-10-15).
_DAYS = {"occurred_on", "opens_on", "closes_on"}
#: How a list's items, and a mapping's parts, are set apart in each language.
_LIST = {"zh": "、", "en": ", "}
_PARTS = {"zh": "；", "en": "; "}
#: The kinds of a redemption window.
_WINDOW_KINDS = {"regular": _("常规"), "extra": _("加开")}


@dataclass(frozen=True)
class Described:
    """One audit entry as the screen shows it."""

    sentence: str
    details: list[tuple[str, str]]


def action_label(code: str) -> str:
    """Return an action code in words; an unknown code as itself."""
    if code in ACTIONS:
        return ACTIONS[code]
    for prefix, (phrase, steps) in FAMILIES.items():
        step = code.removeprefix(prefix)
        if code.startswith(prefix) and step in steps:
            return phrase(steps[step])
    return code


def subject_label(subject: str | None, names: dict[str, str]) -> str:
    """Return what an entry is about in words: 规则「乱扔垃圾」, 居民 王大, 流水 #17."""
    if not subject:
        return ""
    kind, _sep, key = subject.partition(":")
    if subject in names:
        return f"{SUBJECTS.get(kind, kind)}「{names[subject]}」"
    if kind in SUBJECTS:
        if bounds.parse_whole(key) is not None:
            return f"{SUBJECTS[kind]} #{key}"
        if re.fullmatch(r"\d{4}-\d{2}", key):                 # a month: 2026年9月
            key = formatting.month(int(key[:4]), int(key[5:]), current_language())
        return f"{SUBJECTS[kind]} {key}"
    return subject


def _value(key: str, value, names: dict[str, str]) -> str:
    if key in _MONEY and isinstance(value, int):
        return formatting.yuan(value, current_language())
    if key in _DAYS and isinstance(value, str):
        try:
            return formatting.day(date.fromisoformat(value), current_language())
        except ValueError:
            return value
    if key in _STATES and isinstance(value, str):
        return str(FOUNDATION_STATES.get(value, value))
    if key in ("residents", "resident", "members"):
        ids = value if isinstance(value, list) else [value]
        return _LIST[current_language()].join(names.get(f"resident:{i}", f"#{i}") for i in ids)
    if key == "kind" and value in _WINDOW_KINDS:
        return str(_WINDOW_KINDS[value])
    if key == "role" and isinstance(value, str):
        return str(ROLE_NAMES.get(value, value))
    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    if isinstance(value, list):
        return _LIST[current_language()].join(_value(key, v, names) for v in value)
    if isinstance(value, dict):
        return _PARTS[current_language()].join(f"{DETAILS.get(k, k)} {_value(k, v, names)}"
                                              for k, v in value.items())
    return "" if value is None else str(value)


def detail_rows(detail: str | None, names: dict[str, str]) -> list[tuple[str, str]]:
    """Return an entry's detail as (label, value) rows; a detail that is not JSON as one row."""
    if not detail:
        return []
    try:
        data = json.loads(detail)
    except ValueError:
        return [(str(_("详情")), detail)]
    if not isinstance(data, dict):
        return [(str(_("详情")), str(data))]
    return [(str(DETAILS.get(k, k)), _value(k, v, names)) for k, v in data.items() if v not in (None, "", [])]


def describe(entry, names: dict[str, str]) -> Described:
    """Return an audit entry as a sentence (who did what to what) and its details laid out."""
    what = subject_label(entry.subject, names)
    action = action_label(entry.action)
    sentence = (str(_("%(who)s %(action)s：%(what)s", who=entry.actor, action=action, what=what)) if what
                else f"{entry.actor} {action}")
    return Described(sentence, detail_rows(entry.detail, names))


def referenced_names(session, bank, entries) -> dict[str, str]:
    """Return the names the entries refer to by code: rules, residents, households, goods."""
    from sqlalchemy import select

    from ledger.banks import rulebook
    from ledger.models import Household, Resident
    from redemption.services.catalog import item_names

    wanted: dict[str, set] = {"resident": set(), "household": set(), "item": set()}
    for e in entries:
        kind, _sep, key = (e.subject or "").partition(":")
        if kind in wanted and (number := bounds.parse_whole(key)) is not None:
            wanted[kind].add(number)
        for key, value in _detail_dict(e.detail).items():
            if key in ("residents", "resident", "members"):
                wanted["resident"].update(v for v in (value if isinstance(value, list) else [value])
                                          if isinstance(v, int))
    names: dict[str, str] = {}
    for kind, model in (("resident", Resident), ("household", Household)):
        if wanted[kind]:
            rows = session.execute(select(model).where(model.bank_id == bank.id, model.id.in_(wanted[kind])))
            for row in rows.scalars():
                names[f"{kind}:{row.id}"] = getattr(row, "name", None) or getattr(row, "code", "")
    names.update({f"item:{i}": name for i, name in item_names(session, bank, wanted["item"]).items()})
    # Every bank opens with rules; a rule since dropped shows by its code.
    _version, book = rulebook(session, bank.id)
    names.update({f"rule:{r.code}": r.name for r in book.rules})
    return names


def _detail_dict(detail: str | None) -> dict:
    try:
        data = json.loads(detail) if detail else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
