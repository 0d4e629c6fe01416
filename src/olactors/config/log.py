"""``[log]``: level and format of the daemon's log lines."""

from __future__ import annotations

from typing import Literal

from ._base import Section


class LogConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: "json": one object per line; "text": readable lines; "auto": text on a
    #: terminal, JSON otherwise (a service manager, a container).
    format: Literal["auto", "json", "text"] = "auto"
