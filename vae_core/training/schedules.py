"""β schedules by name: the weight of the KL term as a function of the step."""

from __future__ import annotations

from collections.abc import Callable

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
