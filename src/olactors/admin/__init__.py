"""The admin listener: an authenticated Quart (quart-trio) app to see and steer the daemon."""

from ._answers import error_answer, json_answer
from ._app import LOOPBACK_NAMES, AdminPart, admin_app
from ._guard import Sessions
from ._probes import PROBES
from ._token import TOKEN_FILE, configured_token, generated_token, stored_token
from ._tree import admin_spec

__all__ = [
    "LOOPBACK_NAMES",
    "PROBES",
    "TOKEN_FILE",
    "AdminPart",
    "Sessions",
    "admin_app",
    "admin_spec",
    "configured_token",
    "error_answer",
    "generated_token",
    "json_answer",
    "stored_token",
]
