"""Schedules by name: β (the weight of the KL term) and the learning rate's multiplier, as
functions of where training is."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from vae_core.config import TrainConfig


def _constant(base: float, step: int, config: TrainConfig) -> float:
    return base


def _linear_warmup(base: float, step: int, config: TrainConfig) -> float:
    return base * min(1.0, step / max(1, config.beta_warmup_steps))


def _cyclical(base: float, step: int, config: TrainConfig) -> float:
    # Fu et al. 2019: rise linearly over the first half of each cycle, hold for the second.
    phase = (step % max(1, config.beta_cycle_steps)) / max(1, config.beta_cycle_steps)
    return base * min(1.0, 2.0 * phase)


BETA_SCHEDULES: dict[str, Callable[[float, int, TrainConfig], float]] = {
    "constant": _constant,
    "linear": _linear_warmup,
    "cyclical": _cyclical,
}


@dataclass(frozen=True)
class ScheduleClock:
    """Where a run is: the step about to be taken, the steps in an epoch, and the share of the
    budget done in [0, 1] (a run with a time budget may count it in minutes rather than steps)."""

    step: int
    steps_per_epoch: int
    progress: float


def _constant_lr(clock: ScheduleClock, config: TrainConfig) -> float:
    return 1.0


def _cosine_lr(clock: ScheduleClock, config: TrainConfig) -> float:
    # A linear warm-up over the first steps (Adam's early steps are large), then half a cosine
    # from 1 to 0 over the budget.
    warmup = min(1.0, (clock.step + 1) / max(1, config.lr_warmup_steps))
    return warmup * 0.5 * (1.0 + math.cos(math.pi * min(1.0, clock.progress)))


# Burda et al. 2015: stage i (i = 0..7) lasts 3^i epochs at lr · 10^(-i/7); 3,280 epochs in all.
BURDA_STAGES = 8


def _burda_lr(clock: ScheduleClock, config: TrainConfig) -> float:
    epoch = clock.step // max(1, clock.steps_per_epoch)
    stage, stage_end = 0, 1
    while epoch >= stage_end and stage < BURDA_STAGES - 1:
        stage += 1
        stage_end += 3**stage
    return 10.0 ** (-stage / (BURDA_STAGES - 1))


# Name -> the multiplier of the base learning rate (which the window can still change live).
LR_SCHEDULES: dict[str, Callable[[ScheduleClock, TrainConfig], float]] = {
    "constant": _constant_lr,
    "cosine": _cosine_lr,
    "burda": _burda_lr,
}
