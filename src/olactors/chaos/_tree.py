"""The ``[chaos]`` section's share of the tree and of the admin: nothing unless enabled."""

from __future__ import annotations

import random
from functools import partial

from ..admin import AdminPart
from ..config.chaos import ChaosConfig
from ..runtime import ActorSpec
from ._admin import chaos_admin
from ._injector import CHAOS_PATH, CrashInjector, Injections
from ._targets import Targets


class Chaos:
    """The crash injector at ``/root/chaos`` and ``POST /chaos/crash``, when ``[chaos]
    enabled``; otherwise no actor and no route at all (the configuration already refused
    an enabled section on a daemon reachable from other hosts)."""

    def __init__(self, settings: ChaosConfig) -> None:
        self.settings = settings
        # One chooser and one tally for every incarnation: a restarted injector
        # goes on with the seeded sequence instead of replaying it.
        self.chooser = random.Random(settings.seed)  # noqa: S311 -- chaos, not secrets
        self.injections = Injections()

    @property
    def on(self) -> bool:
        return self.settings.enabled

    def specs(self) -> list[ActorSpec]:
        """``[ActorSpec("chaos")]`` when enabled, else ``[]``: the root's last child, so it
        starts once everything else is up and stops first."""
        if not self.on:
            return []
        name = CHAOS_PATH.rpartition("/")[2]
        make = partial(
            CrashInjector,
            self.settings.crash_every_s,
            Targets(self.settings.targets),
            self.chooser,
            self.injections,
        )
        return [ActorSpec(name, make)]

    def admin(self) -> AdminPart:
        if not self.on:
            return lambda app, context, store: None
        return chaos_admin()
