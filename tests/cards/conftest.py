"""The cards' fixtures: the desk's village, with its users made on first use."""
from __future__ import annotations

from ..redemption.conftest import Desk, desk, household_desk  # noqa: F401  (fixtures)
