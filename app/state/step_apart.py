"""The step taken apart, as the window shows it (psygnal, one event per field; no Qt, no torch
work): whether the mode is on, why the model on show cannot take a step apart, and the newest
phase of the step under way. Its controller (app/controllers/step_apart.py) writes it; the
toolbar's buttons, the phase row and the map's layer draw it."""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields

import numpy as np
from psygnal import evented

from vae_core.training.step_apart import PHASES, StepPhase


@dataclass
class StepApartState:
    active: bool = False  # the mode is on
    refusal: str = ""  # why the model on show cannot take a step apart ("" where it can)
    phase: StepPhase | None = None  # the newest phase of the step under way, or of the last one
    step: int | None = None  # the run's step count once that phase ran
    input_name: str = ""  # the input the step is taken on, in words
    input_image: np.ndarray | None = None  # its display image, uint8 (H, W[, C]); None for points
    held: bool = False  # the run is held (paused, stopped or finished): it takes phases
    waiting: bool = False  # a phase asked of the run and not yet taken
    note: str = ""  # what the mode waits for, or what just happened, in a line

    @property
    def can_take_phase(self) -> bool:
        return self.active and self.held and not self.waiting

    @property
    def step_done(self) -> bool:
        """The last phase has run: the next phase begins another step."""
        return self.phase is not None and self.phase.name == PHASES[-1]


def _fields() -> tuple[str, ...]:
    return tuple(item.name for item in fields(StepApartState))


# Every assignment is news (a phase is replaced, never changed): the fields compare by identity.
StepApartState = evented(StepApartState, equality_operators=dict.fromkeys(_fields(), operator.is_))
