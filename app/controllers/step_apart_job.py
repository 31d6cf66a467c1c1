"""A run's step taken apart, inside the run's job (Qt-free): one phase per request, on the thread
where the trainer lives, between two of its snapshots while the run is held (paused or ended).

A step under way is finished only by its phases. Any other command to the run puts it aside
first: its generator is closed before the optimiser steps, its gradients are cleared and the
run's random stream is wound back, so the weights, the optimiser and the next draws are those of
a run that never began it."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass

import torch

from vae_core.training.step_apart import PHASES, StepPhase, step_apart_in_run
from vae_core.training.trainer import Trainer, TrainingSnapshot


@dataclass(frozen=True)
class TakePhase:
    """The command: the next phase of the step under way, or the first of a new step on this
    input (its image (1, C, H, W) in [0, 1] and label (1,) or None)."""

    image: torch.Tensor
    label: torch.Tensor | None


@dataclass(frozen=True)
class PhaseTaken:
    phase: StepPhase
    step: int  # the trainer's step count once the phase ran (one more after the update)


@dataclass(frozen=True)
class PhasesPutAside:
    step: int  # the step the run is still at


class StepInPhases:
    """The run's one step taken apart at a time."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self._phases: Generator[StepPhase, None, TrainingSnapshot] | None = None
        self._random_state: torch.Tensor | None = None

    def take(self, request: TakePhase) -> Iterator[object]:
        """Runs the next phase: yields PhaseTaken, and after the last one the step's snapshot."""
        if self._phases is None:
            self._random_state = self.trainer.generator.get_state()
            self._phases = step_apart_in_run(self.trainer, request.image, request.label)
        phase = next(self._phases)
        yield PhaseTaken(phase, self.trainer.step)
        if phase.name != PHASES[-1]:
            return
        phases, self._phases = self._phases, None
        try:
            next(phases)
        except StopIteration as end:
            yield end.value

    def put_aside(self) -> Iterator[object]:
        """Drops a step under way before its update (yields PhasesPutAside where there was one)."""
        if self._phases is None:
            return
        self._phases.close()
        self._phases = None
        self.trainer.optimizer.zero_grad()
        self.trainer.generator.set_state(self._random_state)
        yield PhasesPutAside(self.trainer.step)
