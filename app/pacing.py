"""How many training steps go between two snapshots in the window (no Qt).

The window wants snapshots about ten times a second whatever the model's speed: a first one
after a single step (curves appear at once), then as many steps as fill the target interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LogPacer:
    target_interval_s: float = 0.1
    # Changes only when the rate is off by more than this factor, so the interval never flaps;
    # with a 0.1 s target that keeps snapshots between 5 and 20 a second.
    tolerance: float = 2.0
    # The first measurements include warm-up; grow step by step towards the target.
    max_growth: int = 8
    # A run's first snapshot comes after this many steps: its curves appear at once.
    first_log_every: int = 1

    def next_log_every(self, log_every: int, steps_per_second: float) -> int | None:
        """The new number of steps between snapshots, or None to keep `log_every`."""
        if not math.isfinite(steps_per_second) or steps_per_second <= 0:
            return None
        ideal = max(1, round(steps_per_second * self.target_interval_s))
        if log_every / self.tolerance <= ideal <= log_every * self.tolerance:
            return None
        return min(ideal, log_every * self.max_growth)
