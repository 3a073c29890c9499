"""The foundation's HTTP face: the JSON API, the clerk's and reviewers' screens, the public page.

The routes hang on the blueprints of foundation/blueprint.py, one module here for each part of
the work: applications (applicants, applications and their files), review (the panel, the
scores, the council's decision), money (tranches, progress, completion, volunteers), wishes, and
public (the quarterly report and the public page); home is the front screen. Importing this
package adds them all, and the app factory registers `bp`.
"""
from __future__ import annotations

from ..blueprint import bp
# The OpenAPI document lists the operations in the order the routes were added: the modules come
# in the order their operations always have.
from . import applications, review, money, wishes, public, home  # noqa: F401  (they add the routes)

__all__ = ["bp"]
