"""The foundation's blueprints: `bp` holds the screens and the public page and carries `api`, the
JSON API under /api/v1, as a nested blueprint, which the app exempts from CSRF like every /api/
blueprint. The modules of foundation/views add their routes to them.
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("foundation", __name__, template_folder="templates")
api = Blueprint("api", __name__, url_prefix="/api/v1/banks/<bank>/foundation")
bp.register_blueprint(api)
