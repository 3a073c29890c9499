"""An application's files: photos, the scanned paper form and a project's progress photos, kept
under the instance folder and told by their first bytes, never by what the client claims.

A file and its row stand or fall together: a service that fails removes the files it wrote.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ground.clock import Clock
from ground.errors import NotFound, TooLarge, ValidationError
from ground.i18n import _
from ground.tenants import Bank
from ledger.posting import Idempotency
from ledger.unit import UnitOfWork

from . import workflow as wf
from .applications import get_application
from .models import Applicant, Application, Attachment

#: What an attachment may be, told by its first bytes rather than by what the client claims.
FILE_TYPES = ((b"\xff\xd8\xff", "image/jpeg", "jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
              (b"%PDF-", "application/pdf", "pdf"))
ATTACHMENT_KINDS = ("photo", "paper_form", "progress", "completion")
#: A phone's photo or a scanned form; a progress report may carry a few photos at once.
MAX_ATTACHMENT_BYTES = 10 * 2**20
MAX_PROGRESS_BYTES = 3 * MAX_ATTACHMENT_BYTES


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: its name and bytes."""

    filename: str
    data: bytes


def add_attachment(session: Session, bank: Bank, application_id: int, upload: Upload, *,
                   kind: str, on_behalf_of: str | None, by: str, clock: Clock,
                   instance_path: str, idem: Idempotency | None = None) -> Attachment:
    """Keep a photo or the scanned paper form under the instance folder, recording who entered it.

    A paper form is entered by the clerk on the applicant's behalf: it names whose form it is
    (the applicant, unless said otherwise) and who entered it. A retry with the same key
    returns the attachment the first one kept, and keeps no second file.
    """
    if kind not in ("photo", "paper_form"):
        raise ValidationError({"kind": [_("须为 photo 或 paper_form")]})
    stored: dict = {}
    try:
        with UnitOfWork(session, bank, by=by, clock=clock, idem=idem) as uow:
            if uow.replayed:
                return session.get(Attachment, uow.replayed.data["attachment"])
            application = get_application(session, bank, application_id)
            if kind == "paper_form" and not on_behalf_of:
                on_behalf_of = session.get(Applicant, application.applicant_id).name
            stored = _store(bank, application, upload, instance_path)
            attachment = Attachment(bank_id=bank.id, application_id=application.id, kind=kind,
                                    on_behalf_of=on_behalf_of, entered_by=by,
                                    entered_at=clock.now(), **stored)
            session.add(attachment)
            session.flush()
            uow.remember("created", {"attachment": attachment.id})
            uow.audit("attachment_add", f"application:{application.id}",
                      {"kind": kind, "sha256": stored["sha256"]})
    except BaseException:
        # Nothing written means no file either: the row and the file stand or fall together.
        if stored:
            _unlink(instance_path, stored["path"])
        raise
    return attachment


def check_upload(upload: Upload) -> tuple[str, str]:
    """Return the MIME type and extension of a file that may be kept; refuse any other.

    Callers that write something else first check the file here, so a bad file writes nothing.
    """
    data = upload.data
    if not data:
        raise ValidationError({"file": [_("文件为空")]})
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise TooLarge("file", MAX_ATTACHMENT_BYTES)
    kind = next(((mime, ext) for magic, mime, ext in FILE_TYPES if data.startswith(magic)), None)
    if kind is None:
        raise ValidationError({"file": [_("只接受 JPEG、PNG 照片或 PDF 扫描件")]})
    return kind


def _store(bank: Bank, application: Application, upload: Upload, instance_path: str) -> dict:
    """Write the file to the instance folder; refuse what is not a JPEG, PNG or PDF."""
    data = upload.data
    mime, ext = check_upload(upload)
    relative = Path("foundation") / bank.code / str(application.id) / f"{secrets.token_hex(8)}.{ext}"
    target = Path(instance_path) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    name = Path(upload.filename or f"file.{ext}").name[:200] or f"file.{ext}"
    return {"filename": name, "path": relative.as_posix(), "content_type": mime, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def _unlink(instance_path: str, relative: str) -> None:
    (Path(instance_path) / relative).unlink(missing_ok=True)


def attachments_of(session: Session, application_id: int) -> list[Attachment]:
    return list(session.execute(select(Attachment).where(Attachment.application_id == application_id)
                                .order_by(Attachment.id)).scalars())


def attachment_file(session: Session, bank: Bank, application_id: int, attachment_id: int, *,
                    instance_path: str, public: bool = False) -> tuple[Attachment, Path]:
    """Return an attachment and where its file is; on the public page, only a funded project's
    progress photos."""
    application = get_application(session, bank, application_id)
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.application_id != application.id:
        raise NotFound(_("找不到该附件"))
    if public and (attachment.kind != "progress" or application.state not in wf.FUNDED):
        raise NotFound(_("找不到该附件"))
    return attachment, Path(instance_path) / attachment.path
