"""How many training steps go between two snapshots in the window (no Qt).

The window wants snapshots about ten times a second whatever the model's speed: a first one
after a single step (curves appear at once), then as many steps as fill the target interval.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
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


class DutyCycle:
    """Spacing for a periodic refresh whose cost depends on the model: starts at least
    `min_interval_s` apart, and further apart when the refresh is costly, so that it takes at
    most `share` of the time. The work it spends between starts is reported with `spent`."""

    def __init__(self, min_interval_s: float, share: float):
        self.min_interval_s = min_interval_s
        self.share = share
        self._last_start = -math.inf
        self._cost_s = 0.0

    def started(self, now: float) -> None:
        self._last_start = now
        self._cost_s = 0.0

    def spent(self, seconds: float) -> None:
        self._cost_s += seconds

    def charged(self, work: Callable[[], None]) -> Callable[[], None]:
        """`work`, its time charged to this cycle."""

        def timed_work() -> None:
            started = time.perf_counter()
            work()
            self.spent(time.perf_counter() - started)

        return timed_work

    def wait_s(self, now: float) -> float:
        """Seconds from `now` until the next start is due (0 when due already)."""
        gap = max(self.min_interval_s, self._cost_s / self.share)
        return max(0.0, self._last_start + gap - now)

    def due_now(self) -> None:
        """The next start needs no wait (the user changed something, say)."""
        self._last_start = -math.inf


class SpeedLimit:
    """Holds a run to at most `steps_per_second` (None: as fast as it goes) by waiting at its
    snapshots. The wait comes from the steps done since the limit was set, so a slow step is
    made up for by a shorter wait; a run that fell behind (a pause, a slow save) starts afresh
    from where it is rather than catching up in a burst."""

    def __init__(self) -> None:
        self.steps_per_second: float | None = None
        self._anchor: tuple[int, float] | None = None  # (step, time) the schedule counts from

    def set(self, steps_per_second: float | None) -> bool:
        """Change the limit; True when it changed."""
        if steps_per_second == self.steps_per_second:
            return False
        self.steps_per_second = steps_per_second
        self._anchor = None
        return True

    def log_every(self, target_interval_s: float) -> int | None:
        """Steps between snapshots that keep them `target_interval_s` apart at the limit (None
        when there is no limit)."""
        if self.steps_per_second is None:
            return None
        return max(1, round(self.steps_per_second * target_interval_s))

    def wait_s(self, step: int, now: float) -> float:
        """Seconds to wait at `step` before training on."""
        if self.steps_per_second is None:
            return 0.0
        step_s = 1.0 / self.steps_per_second
        if self._anchor is not None:
            anchor_step, anchor_time = self._anchor
            due = anchor_time + (step - anchor_step) * step_s
            if step >= anchor_step and due >= now - step_s:
                return max(0.0, due - now)
        self._anchor = (step, now)
        return 0.0
