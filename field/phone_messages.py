"""The phone app's words: one message per key, in the field's catalogue, served as JSON per language.

index.html keeps the Chinese of each of its words (the msgid) as it stands before the script runs,
and names the key in `data-i18n` (`data-i18n-placeholder`, `data-i18n-aria-label`); app.js asks
for a key with `t("key", {n: 3})`, filling `%(n)s` itself. tests/field/test_phone_language.py
holds both files to this table. The manifest keeps its Chinese name: a phone reads it once, when
the app is added to the home screen, whatever language is chosen later.
"""
from __future__ import annotations

from ground.i18n import _, render

#: The languages the app speaks, as the screens' switch names them.
LANGUAGES = ("zh", "en")

MESSAGES = {
    "title": _("网格员登分"),
    "bank": _("综治银行 · 网格员"),
    "online": _("在线"),
    "offline": _("离线"),
    "signin": _("登录"),
    "name": _("用户名"),
    "password": _("密码"),
    "signin_offline": _("没有网络，登录需要信号"),
    "signout": _("退出登录"),
    "waiting": _("待发送 %(n)s 条"),
    "send_now": _("立即发送"),
    "step_cards": _("1. 扫卡 / 输入卡号"),
    "scan": _("扫卡"),
    "stop_scan": _("关闭相机"),
    "no_camera": _("无法打开相机，请输入卡号"),
    "number": _("卡号"),
    "number_hint": _("卡号，如 7KQ4-M2XD"),
    "add": _("添加"),
    "remove": _("移除"),
    "card_seen": _("这张卡已经扫过了"),
    "card_added": _("已添加：%(who)s"),
    "card_token": _("卡 …%(end)s"),
    "card_number": _("卡号 %(number)s"),
    "person": _("%(name)s（%(card)s）"),
    "step_activity": _("2. 活动签到（可选）"),
    "activity": _("活动"),
    "no_activity": _("不签到，只登记好事"),
    "activity_option": _("签到：%(title)s"),
    "step_rule": _("3. 选规则"),
    "rule_hint": _("输入拼音首字母，如 hjzz"),
    "rule_initials": _("规则拼音首字母"),
    "rule_line": _("%(name)s（%(points)s/%(unit)s）"),
    "rule_chosen": _("已选：%(rule)s"),
    "quantity": _("数量"),
    "day": _("日期"),
    "memo": _("备注"),
    "memo_hint": _("备注（可不填）"),
    "step_photos": _("4. 拍照（可选，最多 4 张）"),
    "photos": _("照片"),
    "submit": _("提交"),
    "checkin_mode": _("签到模式：扫卡即签到"),
    "no_people": _("请先扫卡或输入卡号"),
    "no_rule": _("请选择规则"),
    "saved": _("已保存，正在发送"),
    "saved_offline": _("没有信号：已保存在手机上，有信号时自动发送"),
    "sent": _("已发送"),
    "checked_in": _("已签到：%(name)s"),
    "checked_in_before": _("已签到过：%(card)s"),
    "checkin_failed": _("签到失败：%(problem)s"),
    "deed_pending": _("待审核：%(rule)s × %(n)s"),
    "deed_posted": _("已入账：%(rule)s × %(n)s"),
    "deed_refused": _("未入账：%(rule)s，%(problem)s"),
    "failed": _("请求失败"),
    "problem": _("%(message)s：%(reason)s"),
}


def messages(lang: str) -> dict:
    """Return the app's words in `lang` ("zh": the msgids themselves), placeholders left for the app."""
    return {"lang": lang, "messages": render(MESSAGES, lang)}
