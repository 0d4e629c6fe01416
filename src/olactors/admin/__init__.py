"""The admin listener: an authenticated Quart (quart-trio) app to see and steer the daemon."""

from ._app import PROBES, admin_app

__all__ = ["PROBES", "admin_app"]
