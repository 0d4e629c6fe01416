"""``[chaos]``: actor crashes injected on purpose, for the chaos suite; never in production."""

from __future__ import annotations

from pydantic import Field, field_validator

from ._base import Section


class ChaosConfig(Section):
    """Fault injection: a crasher at ``/root/chaos`` and ``POST /chaos/crash`` on the admin.

    Off by default, and refused (at load, with the rest of the configuration)
    unless every listener is bound to loopback: a daemon that another host can
    reach is a production daemon, and nobody there should be able to crash
    its actors on purpose.
    """

    #: Nothing of the hook exists unless this is true: no /root/chaos actor, no route.
    enabled: bool = False
    #: Mean seconds between crashes injected at random (exponential waits: a
    #: Poisson process). 0: none at random, only on demand (POST /chaos/crash).
    crash_every_s: float = Field(default=5.0, ge=0)
    #: The actors a random crash may hit, as path globs: ``*`` and ``?`` within
    #: one segment, ``**`` any number of segments. Supervisors, the root and
    #: the crasher itself never match; the store only for a pattern that spells
    #: out /root/store (``/root/**`` alone leaves it out).
    targets: list[str] = Field(default_factory=lambda: ["/root/delivery/*/*"])
    #: Seeds the choice of waits and targets, so a run can be repeated. Unset: random.
    seed: int | None = None

    @field_validator("targets")
    @classmethod
    def _absolute_paths(cls, targets: list[str]) -> list[str]:
        for pattern in targets:
            if not pattern.startswith("/") or "//" in pattern or pattern.endswith("/"):
                raise ValueError(
                    f"{pattern!r} is not an actor path pattern like /root/delivery/*/*"
                )
        return targets
