"""The audit screen's words: every entry as a Chinese sentence, with its details laid out.

The log stores stable codes (`application_award`, `rule:litter`, `{"residents": [5]}`) so that it
can be searched and never changes meaning; this module is the one place that says them in words:
ACTIONS for action codes, FAMILIES for codes built as a prefix and a step, SUBJECTS for the kind
of thing acted on, DETAILS for the keys of the detail. A code missing here still shows (as
itself), so a new action is never hidden.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from ground.i18n import render
from foundation.errors import ACTION_NAMES as FOUNDATION_STEPS, STATE_NAMES as FOUNDATION_STATES
from ledger import formatting
from rules import bounds

from web.users import ROLE_NAMES

#: Action codes in words.
ACTIONS = {
    "login": "登录", "login_failed": "登录失败", "logout": "退出",
    "deed": "登分", "penalty": "扣分", "deed_pending": "登分（待审核）", "approve": "审核通过",
    "reject": "审核驳回", "reversal": "冲正", "rules_load": "载入规则", "bank_create": "开设银行",
    "roster_import": "导入名册", "resident_create": "登记居民", "resident_update": "修改居民",
    "resident_deactivate": "停用居民", "resident_activate": "恢复居民", "resident_move": "迁户",
    "household_create": "登记户", "household_update": "修改户",
    "token_create": "发放令牌", "token_revoke": "吊销令牌", "user_create": "添加用户",
    "user_disable": "停用用户", "user_enable": "启用用户", "password_reset": "重设密码",
    "objection": "登记异议", "objection_uphold": "支持异议", "objection_reject": "驳回异议", "seal": "封账",
    "expiry": "积分清零", "cards_issue": "发放积分卡", "card_revoke": "作废积分卡",
    "redemption": "兑换", "catalog_add": "新增兑换物品", "catalog_change": "修改兑换物品",
    "fund_receipt": "登记基金收入", "window_open": "开放兑换期", "window_close": "关闭兑换期",
    "applicant_create": "登记申请方", "application_create": "录入微项目申请", "attachment_add": "上传附件",
    "score": "评审打分", "conflict_declare": "申明回避", "reviewer_link": "关联理事", "tranche": "拨付资金",
    "progress": "报告进展", "wish_claim": "认领微心愿", "wish_claim_expire": "微心愿认领过期",
    "wish_collect": "征集微心愿", "wish_confirm": "确认微心愿已实现", "wish_deliver": "送达微心愿",
}

#: Action codes built as prefix + step: (the phrase, with {step} for the step's words; the steps).
FAMILIES = {
    "application_": ("{step}微项目申请", FOUNDATION_STEPS),
    "wish_": ("{step}微心愿", FOUNDATION_STEPS),
    "freeze_": ("封存{step}", {"day": "日登分簿", "notice": "月公示", "quarter": "季度汇总", "year": "年度表彰"}),
    "stock_": ("{step}入库", {"purchase": "采购", "donation": "捐赠"}),
}

#: The kinds of thing an entry is about ("rule:litter" is about a rule).
SUBJECTS = {
    "rule": "规则", "rules": "规则文件", "transfer": "流水", "resident": "居民", "household": "户",
    "pending": "待审核登分", "application": "微项目申请", "applicant": "申请方", "wish": "微心愿",
    "item": "兑换物品", "receipt": "收入", "redemption": "兑换", "window": "兑换期", "objection": "异议",
    "month": "月份", "day": "日期", "notice": "公示", "quarter": "季度", "year": "年度", "token": "令牌",
    "user": "用户", "bank": "银行", "cards": "积分卡", "roster": "名册", "ip": "地址",
}

#: The detail's keys in words.
DETAILS = {
    "residents": "居民", "resident": "居民", "members": "成员", "quantity": "数量", "points": "积分",
    "occurred_on": "发生日期", "transfers": "流水", "transfer": "流水", "pending": "待审核",
    "reversal": "冲正记录", "reason": "原因", "note": "备注", "from": "原状态", "to": "新状态",
    "hash": "快照哈希", "head_seq": "链头序号", "head_hash": "链头哈希", "amount": "金额",
    "amount_fen": "金额", "amount_requested": "申请金额", "value_fen": "价值", "donor": "捐赠人",
    "donors": "认领人", "source": "来源", "sku": "物品", "items": "物品", "name": "名称", "code": "编号",
    "kind": "类别", "month": "月份", "opens_on": "开始", "closes_on": "结束", "percent": "进度",
    "photos": "照片", "accounts": "账户", "active": "在册", "before": "修改前", "after": "修改后",
    "changed": "修改项", "created": "新增", "updated": "更新", "revoked": "作废", "expires_at": "到期",
    "household": "户", "user": "用户", "rules_version": "规则版本", "correction": "更正",
    "claim": "认领", "gifts": "捐赠", "role": "角色",
}

#: Keys whose values are fen, shown as yuan.
_MONEY = {"amount", "amount_fen", "amount_requested", "value_fen"}
#: Keys whose values are foundation states.
_STATES = {"from", "to"}
#: Keys whose values are days (stored as 2026-10-15).
_DAYS = {"occurred_on", "opens_on", "closes_on"}


@dataclass(frozen=True)
class Described:
    """One audit entry as the screen shows it."""

    sentence: str
    details: list[tuple[str, str]]


def action_label(code: str) -> str:
    """Return an action code in words; an unknown code as itself."""
    if code in ACTIONS:
        return _(ACTIONS[code])
    for prefix, (phrase, steps) in FAMILIES.items():
        step = code.removeprefix(prefix)
        if code.startswith(prefix) and step in steps:
            # The phrase is Chinese, and so its step.
            return phrase.format(step=render(steps[step], "zh"))
    return code


def subject_label(subject: str | None, names: dict[str, str]) -> str:
    """Return what an entry is about in words: 规则「乱扔垃圾」, 居民 王大, 流水 #17."""
    if not subject:
        return ""
    kind, _sep, key = subject.partition(":")
    if subject in names:
        return f"{_(SUBJECTS.get(kind, kind))}「{names[subject]}」"
    if kind in SUBJECTS:
        if bounds.parse_whole(key) is not None:
            return f"{_(SUBJECTS[kind])} #{key}"
        if re.fullmatch(r"\d{4}-\d{2}", key):                 # a month: 2026年9月
            key = formatting.month(int(key[:4]), int(key[5:]))
        return f"{_(SUBJECTS[kind])} {key}"
    return subject


def _value(key: str, value, names: dict[str, str]) -> str:
    if key in _MONEY and isinstance(value, int):
        return formatting.yuan(value)
    if key in _DAYS and isinstance(value, str):
        try:
            return formatting.day(date.fromisoformat(value))
        except ValueError:
            return value
    if key in _STATES and isinstance(value, str):
        return str(FOUNDATION_STATES.get(value, value))
    if key in ("residents", "resident", "members"):
        ids = value if isinstance(value, list) else [value]
        return "、".join(names.get(f"resident:{i}", f"#{i}") for i in ids)
    if key == "role" and isinstance(value, str):
        return _(ROLE_NAMES.get(value, value))
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_value(key, v, names) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{_(DETAILS.get(k, k))} {_value(k, v, names)}" for k, v in value.items())
    return "" if value is None else str(value)


def detail_rows(detail: str | None, names: dict[str, str]) -> list[tuple[str, str]]:
    """Return an entry's detail as (label, value) rows; a detail that is not JSON as one row."""
    if not detail:
        return []
    try:
        data = json.loads(detail)
    except ValueError:
        return [(_("详情"), detail)]
    if not isinstance(data, dict):
        return [(_("详情"), str(data))]
    return [(_(DETAILS.get(k, k)), _value(k, v, names)) for k, v in data.items() if v not in (None, "", [])]


def describe(entry, names: dict[str, str]) -> Described:
    """Return an audit entry as a sentence (who did what to what) and its details laid out."""
    what = subject_label(entry.subject, names)
    sentence = f"{entry.actor} {action_label(entry.action)}" + (f"：{what}" if what else "")
    return Described(sentence, detail_rows(entry.detail, names))


def referenced_names(session, bank, entries) -> dict[str, str]:
    """Return the names the entries refer to by code: rules, residents, households, goods."""
    from sqlalchemy import select

    from ledger import banks
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
    _version, book = banks.rulebook(session, bank.id)
    names.update({f"rule:{r.code}": r.name for r in book.rules})
    return names


def _detail_dict(detail: str | None) -> dict:
    try:
        data = json.loads(detail) if detail else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
