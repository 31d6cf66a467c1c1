"""A run's budgets: its steps in all, and a wall-time budget as a share of training done, so that
a schedule over the budget (a cosine learning rate) reaches its end when the time does, however
fast the steps turn out to be."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vae_core.config import TrainConfig

# The weight of the newest step's duration in the running mean of seconds per step: the estimate
# follows a change of speed (a loaded machine, a compiled step after its first) within a few
# hundred steps, and one slow step (a compilation, a checkpoint save) moves it little.
RATE_SMOOTHING = 0.01


def step_budget(train: TrainConfig, examples: int) -> int:
    """The steps a run trains in all: `max_steps` where set, else `epochs` passes over `examples`
    training examples in batches of `batch_size` (the last batch of a pass may be short)."""
    if train.max_steps is not None:
        return train.max_steps
    return train.epochs * math.ceil(examples / train.batch_size)


def now() -> float:
    """The budget's clock, looked up at each reading (a test puts a clock of steps in its place)."""
    return time.monotonic()


class TimeBudget:
    """Training until `deadline` (a value of `clock`, `now` by default).

    `progress(step)` is the share of the run done in [0, 1]: the steps taken over the steps taken
    plus those the remaining time holds at the measured rate. It never decreases, and it is 1 from
    the deadline on. The rate is measured from the calls themselves, one per step, so a run on a
    loaded machine or a compiled step is paced by its own speed. Calls that find the same step
    (a reader on another thread) change nothing."""

    def __init__(self, deadline: float, clock: Callable[[], float] | None = None):
        self.deadline = deadline
        self._clock = clock
        self._last: tuple[float, int] | None = None  # (time, step) of the last new step seen
        self._seconds_per_step: float | None = None
        self._progress = 0.0

    def _now(self) -> float:
        return (self._clock or now)()

    def expired(self) -> bool:
        """Whether the deadline had come at the last reading (the schedule reads the clock once a
        step): the trainer asks between steps, and stops."""
        return self._progress >= 1.0

    def progress(self, step: int) -> float:
        now = self._now()
        if self._last is not None and step > self._last[1]:
            seconds = (now - self._last[0]) / (step - self._last[1])
            if self._seconds_per_step is None:
                self._seconds_per_step = seconds
            else:
                self._seconds_per_step += RATE_SMOOTHING * (seconds - self._seconds_per_step)
        if self._last is None or step > self._last[1]:
            self._last = (now, step)
        remaining = max(0.0, self.deadline - now)
        if remaining == 0.0:
            self._progress = 1.0
        elif self._seconds_per_step:
            steps_left = remaining / self._seconds_per_step
            self._progress = max(self._progress, step / (step + steps_left))
        return self._progress
