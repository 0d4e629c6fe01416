"""The provider proxy: the app calls any provider with the daemon's credentials and budgets."""

from ._part import proxy_part

__all__ = ["proxy_part"]
