"""The step taken apart's controller: turns the mode's buttons into the run's commands and the
run's answers into the step-apart state. Every method belongs to the GUI thread.

The phases run in the run's job, on the trainer's own model and optimiser, while the run is held
(paused, stopped or finished): entering the mode pauses a running run, and where no run holds a
trainer it starts one (a new run from the settings shown, or the opened checkpoint resumed)
that pauses after its first step. Leaving the mode mid-step puts the step aside, its update not
made, so the weights are untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from PySide6.QtCore import QObject

from app.controllers.run import RunController
from app.controllers.step_apart_job import PhaseTaken
from app.state import AppState, RunStatus
from app.state.step_apart import StepApartState
from vae_core.errors import VaeStudioError
from vae_core.model_access import dataset_images
from vae_core.training.step_apart import check_step_apart_applies

PAUSING = "Pausing the run: the phases are taken while it is held."
STARTING = "Starting a run with the settings shown; it pauses after its first step."
RESUMING = "Resuming the opened checkpoint; it pauses after its first step."
STOPPING = "The run is stopping: the phases are taken once it has stopped."
TRAINING = "The run is training: pause it (Space) to take the next phase."
PUT_ASIDE = "The step under way was put aside before its update: the weights are untouched."
# The lines said while the mode waits for the run to be held.
WAITING = (PAUSING, STARTING, RESUMING, STOPPING)
NO_RUN = "No run started (see the message): fix the settings, then press Train."
NO_INPUT = "There is no input to take a step on: the model on show has no test images."


class StepApartController(QObject):
    def __init__(
        self,
        state: AppState,
        runs: RunController,
        train: Callable[[], None],
        resume: Callable[[], bool],
        parent: QObject | None = None,
    ):
        """`train` starts a run from the settings shown, `resume` the opened checkpoint's."""
        super().__init__(parent)
        self.app_state = state
        self.runs = runs
        self._train, self._resume = train, resume
        self.state = StepApartState()
        self._input: tuple[torch.Tensor, torch.Tensor | None] | None = None
        runs.phaseTaken.connect(self._on_phase_taken)
        runs.phasesPutAside.connect(self._on_put_aside)
        state.shown.model_changed.connect(self._on_model_changed)
        state.run.status_changed.connect(self._on_status_changed)
        self._on_model_changed()

    # The user's commands. Views redraw on each field's event, reading the whole state: the
    # phase, which they draw, is written last.
    def set_active(self, on: bool) -> None:
        """Enter or leave the mode (a step under way is put aside on leaving)."""
        state = self.state
        if on == state.active or (on and state.refusal):
            return
        if not on and state.phase is not None and not state.step_done:
            self.runs.put_phases_aside()
        self._forget_step()
        state.note = self._hold_run() if on else ""
        state.held = self.runs.held
        state.active = on

    def take_phase(self) -> None:
        """The next phase (the first of a new step once the last one has run)."""
        state = self.state
        if not state.can_take_phase:
            return
        if state.phase is None or state.step_done:
            chosen = self._chosen_input()
            if chosen is None:
                state.note = NO_INPUT
                return
            self._input, state.input_name, state.input_image = chosen
        state.note = ""
        state.waiting = self.runs.take_phase(*self._input)

    # The run's answers.
    def _on_phase_taken(self, taken: PhaseTaken) -> None:
        state = self.state
        if state.active:
            state.step = taken.step
            state.waiting = False
            state.phase = taken.phase

    def _on_put_aside(self, _step: int) -> None:
        self._forget_step()
        self.state.note = PUT_ASIDE if self.state.active else ""

    def _on_status_changed(self, status: RunStatus) -> None:
        state = self.state
        if not self.runs.holds_trainer:  # the run's trainer is gone, and its step with it
            self._forget_step()
        if self.runs.held and state.note in (*WAITING, TRAINING):
            state.note = ""
        elif status is RunStatus.RUNNING and state.active and state.note not in WAITING:
            state.note = TRAINING
        state.held = self.runs.held

    def _on_model_changed(self) -> None:
        model = self.app_state.shown.model
        refusal = ""
        if model is not None and model.viewer is not None:
            try:
                check_step_apart_applies(model.viewer)
            except VaeStudioError as error:
                refusal = f"Step apart: {error}"
        self._forget_step()  # another model: a step shown was another's
        self.state.refusal = refusal
        if refusal:
            self.set_active(False)

    def _forget_step(self) -> None:
        state = self.state
        state.waiting = False
        state.step = None
        state.phase = None

    # Helpers.
    def _hold_run(self) -> str:
        """Hold the run for the phases (pause it, or start one that pauses): the line to show."""
        status = self.runs.status
        if status in (RunStatus.RUNNING, RunStatus.STARTING):
            self.runs.pause()
            return PAUSING
        if status is RunStatus.STOPPING:
            return STOPPING
        if self.runs.held:
            return ""
        shown = self.app_state.shown.model
        if shown is not None and shown.source == "checkpoint" and self._resume():
            self.runs.pause()
            return RESUMING
        self._train()
        self.runs.pause()
        return STARTING if self.runs.status is RunStatus.STARTING else NO_RUN

    def _chosen_input(self):
        """The input selected on the map, else the first test image: ((image, label), its name
        in words, its display image or None for points); None when there is none."""
        shown = self.app_state.shown
        explorer, model = shown.explorer, shown.model
        if model is None:
            return None
        if explorer.selected is not None and explorer.examples is not None:
            data, index, words = explorer.examples, explorer.selected, "the selected input"
        elif model.test_data is not None and len(model.test_data):
            data, index, words = model.test_data, 0, "the first test image"
        else:
            return None
        images, labels = data.batch(torch.tensor([index]))
        label = labels if model.capabilities.conditional else None
        shown_image = dataset_images(data, [index])[0] if data.is_image else None
        return (images, label), words, shown_image
