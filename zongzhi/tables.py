"""Every table of every package, gathered in one metadata for migrations and tests."""
from sqlmodel import SQLModel

import foundation.models  # noqa: F401
import ground.audit  # noqa: F401
import ledger.models  # noqa: F401
import ledger.periods  # noqa: F401
import reports.models  # noqa: F401
import cycle.models  # noqa: F401
import ground.tenants  # noqa: F401
import redemption.models  # noqa: F401
import cards.models  # noqa: F401
import field.models  # noqa: F401
import stats.models  # noqa: F401

metadata = SQLModel.metadata
