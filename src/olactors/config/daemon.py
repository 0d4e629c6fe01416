"""``[daemon]`` and ``[supervision]``: the process itself, and every supervisor's defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from ..runtime import Backoff
from ._base import Section


class DaemonConfig(Section):
    #: How long an orderly shutdown may take before it is forced.
    shutdown_timeout_s: float = Field(default=30.0, gt=0)
    #: The daemon's own files (the generated admin token): created 0700, files 0600.
    state_dir: Path = Path("var")


class SupervisionConfig(Section):
    """Defaults for every supervisor in the tree: Erlang/OTP's intensity."""

    max_restarts: int = Field(default=1, ge=0)
    within_s: float = Field(default=5.0, gt=0)
    backoff_initial_s: float = Field(default=0.05, ge=0)
    backoff_max_s: float = Field(default=5.0, ge=0)
    backoff_multiplier: float = Field(default=2.0, ge=1)
    backoff_jitter: float = Field(default=0.5, ge=0, le=1)
    #: A child that stayed up this long is stable: its restart count starts over.
    backoff_reset_after_s: float = Field(default=30.0, ge=0)
    #: Restarts without being stable before its supervisor gives up and
    #: escalates: a crash loop slower than the intensity window ends here.
    backoff_max_tries: int = Field(default=10, ge=1)

    def options(self) -> dict[str, Any]:
        """What every supervisor spec takes from this section, as keyword arguments."""
        return {
            "max_restarts": self.max_restarts,
            "within_s": self.within_s,
            "backoff": self.backoff(),
        }

    def backoff(self) -> Backoff:
        return Backoff(
            initial_s=self.backoff_initial_s,
            multiplier=self.backoff_multiplier,
            max_s=self.backoff_max_s,
            jitter=self.backoff_jitter,
            reset_after_s=self.backoff_reset_after_s,
            max_tries=self.backoff_max_tries,
        )
