"""Fault injection for the chaos suite: actor crashes, at random and on demand.

Exists only with ``[chaos] enabled = true``, which the configuration refuses
unless every listener is on loopback. The crashes go through the runtime's
``inject_crash``, so each is an ordinary crash to its supervisor.
"""

from ._admin import chaos_admin
from ._injector import CHAOS_PATH, CrashInjector, CrashNow, CrashRefused, Injection, Injections
from ._targets import Targets
from ._tree import Chaos

__all__ = [
    "CHAOS_PATH",
    "Chaos",
    "CrashInjector",
    "CrashNow",
    "CrashRefused",
    "Injection",
    "Injections",
    "Targets",
    "chaos_admin",
]
