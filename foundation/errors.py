"""The foundation's refusals: each a 409 conflict with its own code, or a 422 from the ledger's tree."""
from __future__ import annotations

from ground.errors import ConflictError, NotFound, ValidationError

from .workflow import IllegalMove

_ACTION_ZH = {"submit": "提交", "screen": "初审", "review": "送评审", "award": "资助", "decline": "不予资助",
              "start": "开始实施", "complete": "结项", "close": "归档", "withdraw": "撤回",
              "verify": "审核", "reject": "驳回", "publish": "发布", "claim": "认领", "expire": "认领过期",
              "deliver": "送达", "confirm": "确认"}
STATE_ZH = {"draft": "草稿", "submitted": "已提交", "screening": "初审中", "in_review": "评审中",
            "awarded": "已资助", "declined": "未获资助", "in_progress": "实施中", "completed": "已结项",
            "closed": "已归档", "withdrawn": "已撤回", "collected": "已征集", "verified": "已审核",
            "rejected": "已驳回", "published": "待认领", "claimed": "已认领", "delivered": "已送达",
            "fulfilled": "已实现"}


class IllegalTransition(ConflictError):
    code = "illegal_transition"

    @classmethod
    def of(cls, move: IllegalMove) -> "IllegalTransition":
        return cls(f"当前状态「{STATE_ZH.get(move.state, move.state)}」不能{_ACTION_ZH.get(move.action, move.action)}",
                   f"cannot {move.action} from state {move.state}")


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
