"""What reversing the foundation's entries must respect: refused, for the safe side.

A tranche, a project's spending and its returned balance are also the application's own figures
(disbursed, spent, returned) and steps of its workflow (the first tranche starts the project,
the spending and return complete it); a wish's gifts are its delivery and its fulfilment.
Reversing the transfers alone would leave those figures contradicting the ledger (a project
"disbursed 10,000" whose account was emptied), or take a project's account or the fund below
zero. So the ledger refuses to reverse them, whole entry and all: 409 not_reversible. A mistake
is corrected in the project itself (a smaller next tranche, the completion's figures).
"""
from __future__ import annotations

from ground.errors import ConflictError
from ground.i18n import _
from ledger.reversals import Undo, Undoers

#: The foundation's transfer kinds that carry an application's or a wish's figures.
KINDS = {"project_tranche": _("微项目拨款"), "project_spend": _("微项目结项支出"),
         "project_return": _("微项目结余退回"), "inkind_gift": _("微心愿捐赠"),
         "inkind_given": _("微心愿送达")}


class NotReversible(ConflictError):
    code = "not_reversible"


class _Refuse(Undo):
    def check(self, session, reversal) -> None:
        what = next(KINDS[t.kind] for t in reversal.originals if t.kind in KINDS)
        raise NotReversible(_("%(what)s不能冲正：项目或心愿的记录会与流水不符，请在项目或心愿中更正",
                              what=what))


def register_undoers(undoers: Undoers) -> None:
    """Register the refusal for the foundation's kinds (the app factory calls this)."""
    refuse = _Refuse()
    for kind in KINDS:
        undoers.register(kind, refuse)
