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
    "signout_waiting": _("还有 %(n)s 条未发送。它们会留在这部手机上，%(user)s 再次登录时自动发送。"),
    "signout_refused": _("另有 %(n)s 条未被接受，等你再次登录后处理。"),
    "signout_sure": _("确定退出登录吗？"),
    "others_waiting": _("这部手机上有 %(user)s 的 %(n)s 条记录未发送，%(user)s 登录后才会发送。"),
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
    "rule_line": _("%(name)s（每%(unit)s %(points)s 分）"),
    "rule_chosen": _("已选：%(rule)s"),
    "quantity": _("数量"),
    "day": _("日期"),
    "no_day": _("请选择日期"),
    "future_day": _("日期不能晚于今天（%(today)s）"),
    "too_old_day": _("不能早于 %(first)s（最多补登 %(n)s 天前的记录）"),
    "bad_quantity": _("数量须为 1 至 %(n)d 的整数"),
    "memo": _("备注"),
    "memo_hint": _("备注（可不填）"),
    "step_photos": _("4. 拍照（可选，最多 4 张）"),
    "photos": _("照片"),
    "too_many_photos": _("最多 %(max)s 张照片，现在有 %(n)s 张"),
    "photo_too_big": _("照片 %(name)s 超过 %(size)s，请换一张较小的"),
    "photo_not_image": _("%(name)s 不是 JPEG 或 PNG 照片，请换一张"),
    "photo_why": _("%(name)s（%(why)s）"),
    "photos_failed": _("%(n)s 张照片未能上传：%(why)s"),
    "submit": _("提交"),
    "checkin_mode": _("签到模式：扫卡即签到"),
    "no_people": _("请先扫卡或输入卡号"),
    "no_rule": _("请选择规则"),
    "saved": _("已保存，正在发送"),
    "saved_offline": _("没有信号：已保存在手机上，有信号时自动发送"),
    "all_sent": _("已全部发送"),
    "some_refused": _("%(n)s 条未被接受，原因见“未被接受”"),
    "refused": _("未被接受"),
    "refused_hint": _("服务器没有接受这些记录：请按原因修改后重发，或放弃。"),
    "refused_line": _("%(deed)s · %(day)s"),
    "fix_resend": _("修改后重发"),
    "discard": _("放弃"),
    "discard_sure": _("放弃这条记录？“%(deed)s”将不会发送。"),
    "fixing": _("已放回上面的表单：改好后点“提交”重发（已上传的 %(n)s 张照片会一起发送）"),
    "sent": _("已发送"),
    "checked_in": _("已签到：%(name)s"),
    "checked_in_before": _("已签到过：%(card)s"),
    "checkin_failed": _("签到失败：%(problem)s"),
    "deed_line": _("%(rule)s %(quantity)s%(unit)s · %(people)s"),
    "people_one": _("1人"),
    "people_many": _("%(n)s人"),
    "deed_pending": _("待审核：%(deed)s"),
    "deed_posted": _("已入账：%(deed)s"),
    "failed": _("请求失败"),
    "problem": _("%(message)s：%(reason)s"),
    "also": _("%(first)s；%(next)s"),
    "list_sep": _("、"),
}


def messages(lang: str) -> dict:
    """Return the app's words in `lang` ("zh": the msgids themselves), placeholders left for the app."""
    return {"lang": lang, "messages": render(MESSAGES, lang)}
