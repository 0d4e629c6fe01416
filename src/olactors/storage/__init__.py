"""File storage: uploads to a primary store, a fallback while it fails, and the way back."""

from ._tree import Storage

__all__ = ["Storage"]
