"""When a failed item is tried again, and when it is given up on."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: After each failed attempt, wait this long (jittered) before the next one;
#: after the last, the item is dead-lettered with its last error.
DEFAULT_SCHEDULE_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Waits between attempts, jittered by +-``jitter``, and the two limits.

    An item has ``len(schedule_s) + 1`` attempts. Independently, one claimed
    more than ``max_claims`` times (claims whose attempt never settled: the
    worker or the process died with it in hand) is dead-lettered, so no item
    can crash-loop the daemon. Default: the attempts plus 3.
    """

    schedule_s: Sequence[float] = DEFAULT_SCHEDULE_S
    jitter: float = 0.2
    max_claims: int | None = None

    def __post_init__(self) -> None:
        if not self.schedule_s or any(not (math.isfinite(s) and s >= 0) for s in self.schedule_s):
            raise ValueError("a retry schedule is one or more finite waits >= 0")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")
        if self.max_claims is not None and self.max_claims < self.attempts:
            raise ValueError("max_claims cannot be below the number of attempts")

    @property
    def attempts(self) -> int:
        return len(self.schedule_s) + 1

    @property
    def claim_limit(self) -> int:
        return self.max_claims if self.max_claims is not None else self.attempts + 3

    def exhausted(self, attempt: int) -> bool:
        """True if attempt number ``attempt`` (1-based) was the last one."""
        return attempt >= self.attempts

    def retry_in(
        self,
        attempt: int,
        *,
        at_least_s: float = 0.0,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = self.schedule_s[min(attempt, len(self.schedule_s)) - 1]
        jittered = base * (1 - self.jitter + 2 * self.jitter * rand())
        return max(jittered, at_least_s)
