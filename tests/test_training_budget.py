"""A time budget spent in full: the share done estimated from the step rate, on a fake clock, and
the trainer's cosine learning rate reaching its floor at the deadline."""

from __future__ import annotations

import dataclasses
import math

import pytest

from vae_core.training.budget import TimeBudget
from vae_core.training.trainer import Trainer


class FakeClock:
    """Seconds that pass only when told: each reading adds `tick` (a step's duration)."""

    def __init__(self, tick: float):
        self.now = 0.0
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def test_progress_is_the_steps_taken_over_those_the_budget_holds():
    clock = FakeClock(tick=0.5)  # two steps a second, 100 s: some 200 steps
    budget = TimeBudget(deadline=100.0, clock=clock)
    shares = [budget.progress(step) for step in range(200)]
    assert shares[0] == 0.0  # no rate measured yet
    # At step s, at time 0.5 (s + 1): s steps done, (100 - 0.5 (s + 1)) / 0.5 to come.
    for step in (1, 50, 100, 150, 198):
        assert shares[step] == pytest.approx(step / (step + 200 - (step + 1)), rel=1e-9)
    assert budget.progress(200) == 1.0  # the clock reads 100.5: past the deadline


def test_a_change_of_speed_moves_the_estimate_without_moving_progress_back():
    clock = FakeClock(tick=0.1)
    budget = TimeBudget(deadline=100.0, clock=clock)
    for step in range(300):
        budget.progress(step)
    before = budget.progress(300)
    clock.tick = 1.0  # ten times slower from here (a loaded machine)
    shares = [budget.progress(step) for step in range(301, 360)]
    assert all(later >= earlier for earlier, later in zip([before, *shares], shares))
    assert shares[-1] > before + 0.01


def test_a_reader_at_the_same_step_changes_nothing():
    clock = FakeClock(tick=1.0)
    budget = TimeBudget(deadline=1000.0, clock=clock)
    budget.progress(0)
    first = budget.progress(1)
    clock.tick = 0.0
    assert budget.progress(1) == first


def test_the_cosine_reaches_its_floor_when_the_time_is_up(small_config, small_glyphs):
    """Steps of 0.1 s on a 20 s budget, with a step cap far beyond it: the learning rate falls
    along the cosine of the time spent and is 0 at the deadline, where the run would be stopped."""
    train = dataclasses.replace(
        small_config.train, max_steps=10_000, lr_schedule="cosine", lr_warmup_steps=1, log_every=1
    )
    trainer = Trainer(dataclasses.replace(small_config, train=train), small_glyphs)
    clock = FakeClock(tick=0.1)  # one reading a step: the trainer's schedule reads it once
    trainer.time_budget = TimeBudget(deadline=20.0, clock=clock)
    rates = {}
    for snapshot in trainer.run():
        rates[snapshot.step] = snapshot.learning_rate / train.lr
        if clock.now >= trainer.time_budget.deadline:
            break
    last = max(rates)
    assert 195 <= last <= 201 and rates[last] == 0.0
    # Halfway through the time, halfway down the cosine; a quarter: ½(1 + cos π/4).
    assert rates[100] == pytest.approx(0.5, abs=0.02)
    assert rates[50] == pytest.approx((2 + math.sqrt(2)) / 4, abs=0.02)
    assert all(rates[s + 1] <= rates[s] for s in range(2, last))
