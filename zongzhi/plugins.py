"""The plug-ins: what a wing adds to the work of a floor beneath it, declared by the wing and
installed here, in one place.

A floor beneath offers a plug-in point and never imports who fills it; a wing declares what it
adds as a constant of its own and never writes into a floor beneath it. `install()` fills every
point with exactly what is declared: `create_app` calls it, so every process that builds the app
(the web server, the scheduler, the cycle's workers, the commands that serve, seed or run the
cycle) works with the same plug-ins whatever it happened to import, and calling it again changes
nothing. The commands that open the database alone (banks, rules, users, tokens, verify,
export) reach no plug-in point.

| plug-in point (the floor that calls it) | what it takes | declared by |
|---|---|---|
| `ledger.deeds.DEED_ATTACHMENTS` | request field -> hook with `attach()` and `describe()` | `field.services.DEED_ATTACHMENTS` |
| `redemption.printing.DISCLOSURE_SECTIONS` | (session, bank, year, quarter, clock) -> HTML | `foundation.public.DISCLOSURE_SECTIONS` |
| `ledger.reversals.Undoers` (a registry each app session carries) | transfer kind -> `Undo` | `redemption.services.undo.register_undoers`, `foundation.reversals.register_undoers` |
| `ledger.verify.RECORDED_HEADS` | (session, bank_id) -> the chain heads frozen papers carry | `reports.services.RECORDED_HEADS` |

`zongzhi verify` installs the last alone (`install_verify`): it opens the database, not the app.
"""
from __future__ import annotations

from ledger.reversals import Undoers


def install() -> None:
    """Fill every plug-in point with what the wings declare, and nothing else."""
    from field import services as field
    from foundation import public as foundation
    from ledger import deeds
    from redemption import printing

    deeds.DEED_ATTACHMENTS.clear()
    deeds.DEED_ATTACHMENTS.update(field.DEED_ATTACHMENTS)
    printing.DISCLOSURE_SECTIONS[:] = foundation.DISCLOSURE_SECTIONS
    install_verify()


def install_verify() -> None:
    """Fill what verify asks beyond the ledger: the heads frozen notices and registers carry."""
    from ledger import verify
    from reports import services as frozen

    verify.RECORDED_HEADS[:] = frozen.RECORDED_HEADS


def undoers() -> Undoers:
    """Return the registry of what reversing an entry must also undo, or refuse, in the wings."""
    from foundation import reversals as project_reversals
    from redemption.services import undo as desk_undo

    registry = Undoers()
    desk_undo.register_undoers(registry)               # a line's goods back on the shelf, a purchase off it
    project_reversals.register_undoers(registry)  # a project's or a wish's money: refused
    return registry
