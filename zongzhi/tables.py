"""Every table of every package, gathered in one metadata for migrations and tests."""
from sqlmodel import SQLModel

import ledger.audit  # noqa: F401
import ledger.models  # noqa: F401
import web.models  # noqa: F401

metadata = SQLModel.metadata
