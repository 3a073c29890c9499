"""The foundation's refusals: each a 409 conflict with its own code, or a 422 from the ledger's tree."""
from __future__ import annotations

from ground.errors import ConflictError
from ground.i18n import _

from .workflow import IllegalMove

#: The workflow's actions and states in the reader's language.
ACTION_NAMES = {
    "submit": _("提交"), "screen": _("初审"), "review": _("送评审"), "award": _("资助"),
    "decline": _("不予资助"), "start": _("开始实施"), "complete": _("结项"), "close": _("归档"),
    "withdraw": _("撤回"), "verify": _("审核"), "reject": _("驳回"), "publish": _("发布"),
    "claim": _("认领"), "expire": _("认领过期"), "deliver": _("送达"), "confirm": _("确认")}
STATE_NAMES = {
    "draft": _("草稿"), "submitted": _("已提交"), "screening": _("初审中"), "in_review": _("评审中"),
    "awarded": _("已资助"), "declined": _("未获资助"), "in_progress": _("实施中"),
    "completed": _("已结项"), "closed": _("已归档"), "withdrawn": _("已撤回"),
    "collected": _("已征集"), "verified": _("已审核"), "rejected": _("已驳回"),
    "published": _("待认领"), "claimed": _("已认领"), "delivered": _("已送达"),
    "fulfilled": _("已实现")}


class IllegalTransition(ConflictError):
    code = "illegal_transition"

    @classmethod
    def of(cls, move: IllegalMove) -> "IllegalTransition":
        return cls(_("当前状态「%(state)s」不能%(action)s",
                     state=STATE_NAMES.get(move.state, move.state),
                     action=ACTION_NAMES.get(move.action, move.action)))


class AwardExceedsRequest(ConflictError):
    code = "award_exceeds_request"


class AwardExceedsFund(ConflictError):
    code = "award_exceeds_fund"


class TrancheExceedsAward(ConflictError):
    code = "tranche_exceeds_award"


class InsufficientFund(ConflictError):
    code = "insufficient_fund"


class SpentExceedsDisbursed(ConflictError):
    code = "spent_exceeds_disbursed"


class Recused(ConflictError):
    code = "recused"


class NotOnPanel(ConflictError):
    code = "not_on_panel"


class AlreadyScored(ConflictError):
    code = "already_scored"


class ReviewIncomplete(ConflictError):
    code = "review_incomplete"


class WishNotOpen(ConflictError):
    code = "wish_not_open"
