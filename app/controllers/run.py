"""The run controller: starts a run's job, turns its yields into changes of the state model, and
passes the user's commands to it. Every method and signal belongs to the GUI thread.

Its Qt signals tell the window what to say (a run started, ended, saved, failed); what the views
draw comes from the state model alone.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal

from app.controllers.pacing import LogPacer
from app.controllers.run_job import (
    CheckpointSaved,
    RunCommands,
    RunEnded,
    RunPaused,
    RunResumed,
    RunStarted,
    SaveFailed,
    reseed_codes,
    run_job,
)
from app.controllers.step_apart_job import PhasesPutAside, PhaseTaken
from app.state import AppState, ModelOnShow, RunStatus
from app.workers import DataCache, start_job
from vae_core.checkpoint import Checkpoint
from vae_core.config import RunConfig
from vae_core.errors import VaeStudioError
from vae_core.optimizer import warm_up_optimizer
from vae_core.training.trainer import TrainingDiverged, TrainingSnapshot

OUT_OF_MEMORY_MESSAGE = "training ran out of memory: try a smaller batch size or a smaller model"


class RunController(QObject):
    runStarted = Signal(str)  # the training data, in words
    snapshotReady = Signal(object)  # TrainingSnapshot, after the state has it
    runEnded = Signal(str)  # "finished", "stopped" or "failed"
    errorOccurred = Signal(str)  # one line for the user
    checkpointSaved = Signal(str)
    phaseTaken = Signal(object)  # PhaseTaken: a phase of a step taken apart
    phasesPutAside = Signal(int)  # a step taken apart was dropped; the run's step
    dataProgress = Signal(
        int, int
    )  # bytes downloaded and expected (0 when unknown), from any thread

    def __init__(
        self, state: AppState, parent: QObject | None = None, pacer: LogPacer | None = None
    ):
        super().__init__(parent)
        self.state = state
        self.data = DataCache(progress=self.dataProgress.emit)
        self.pacer = pacer or LogPacer()
        self._commands: RunCommands | None = None
        self._number = 0
        self._steps_per_second: float | None = None
        # Where torch.optim is the optimizer, its first step's one-off import (1.7 s) happens now,
        # while the window opens, rather than after Train is pressed.
        start_job(warm_up_optimizer)

    @property
    def status(self) -> RunStatus:
        return self.state.run.status

    # Commands from the GUI.
    def start(self, config: RunConfig, checkpoint: Checkpoint | None = None) -> None:
        """Train `config` from scratch, or go on from `checkpoint` (whose config it should be)."""
        if self.status.training:
            raise VaeStudioError("a run is going: stop it first")
        self.end()
        self._number += 1
        self._commands = commands = RunCommands(
            config.train.beta, config.train.lr, self._steps_per_second
        )
        self.state.run.begin(None if checkpoint is None else checkpoint.history)
        self.state.shown.show(None)
        start_job(
            run_job,
            config,
            checkpoint,
            commands,
            self.data,
            self.pacer,
            on_yield=partial(self._on_event, self._number),
            on_error=partial(self._on_error, self._number),
            on_finished=partial(self._on_job_finished, self._number),
        )

    def end(self) -> None:
        """Let go of the last run (kept in memory for Continue and saves): another model is on show."""
        if self._commands is not None:
            self._commands.end()
            self._commands = None
            self._number += 1  # what its job still reports is no longer wanted
        # A run let go of while it trained is over too: nothing is left to stop or pause.
        self.state.run.set_status(RunStatus.IDLE)

    # Each command goes to the run's job only from the status that allows it; the job's reports
    # (RunPaused, RunResumed, RunEnded) move the status on. Resume and Stop show at once.
    def pause(self) -> None:
        """Running: pause at the next snapshot; starting: at the run's first snapshot."""
        if self._commands is not None and self.status in (RunStatus.RUNNING, RunStatus.STARTING):
            self._commands.pause()

    def resume(self) -> None:
        if self._commands is not None and self.status is RunStatus.PAUSED:
            self._commands.resume()
            self.state.run.set_status(RunStatus.RUNNING)

    def toggle_pause(self) -> None:
        if self.status is RunStatus.PAUSED:
            self.resume()
        else:
            self.pause()

    def step(self) -> None:
        """Exactly one optimisation step from a pause (a running run pauses first)."""
        if self.status is RunStatus.RUNNING:
            self.pause()
        elif self._commands is not None and self.status is RunStatus.PAUSED:
            self._commands.step()

    def stop(self) -> None:
        if self._commands is None:
            return
        if self.status is RunStatus.STARTING:
            # No trainer yet: the job returns once its data is in, leaving nothing to go on with.
            self._commands.ended.set()
        elif self.status in (RunStatus.RUNNING, RunStatus.PAUSED):
            self._commands.stop()
        else:
            return
        self.state.run.set_status(RunStatus.STOPPING)

    @property
    def can_continue(self) -> bool:
        """A stopped run whose job holds it (not one stopped before its trainer was built)."""
        return self._commands is not None and self.status is RunStatus.STOPPED

    def continue_run(self) -> None:
        """A stopped run goes on from where it stopped."""
        if self.can_continue:
            self._commands.continue_run()
            self.state.run.set_status(RunStatus.RUNNING)

    def set_beta(self, beta: float) -> None:
        if self._commands is not None:
            self._commands.set_beta(beta)

    def set_learning_rate(self, learning_rate: float) -> None:
        if self._commands is not None:
            self._commands.set_learning_rate(learning_rate)

    def set_speed(self, steps_per_second: float | None) -> None:
        """Train at most this many steps a second (None: as fast as it goes), this run and the next."""
        self._steps_per_second = steps_per_second
        if self._commands is not None:
            self._commands.set_speed(steps_per_second)

    def reset_codes(self, codes: Sequence[int]) -> None:
        """VQ-VAE: reset these codebook vectors of the training model, between two steps."""
        model = self.state.shown.model
        if self.status.training and model is not None and model.capabilities.has_codebook:
            self._commands.edit(partial(reseed_codes, list(codes)))

    @property
    def held(self) -> bool:
        """Whether the run's trainer is alive and not training: paused, stopped or finished
        (a step can be taken apart)."""
        held = (RunStatus.PAUSED, RunStatus.STOPPED, RunStatus.FINISHED)
        return self.holds_trainer and self.status in held

    def take_phase(self, image: torch.Tensor, label: torch.Tensor | None) -> bool:
        """The next phase of a step taken apart on this input (`phaseTaken` answers); False
        when the run is not held."""
        if not self.held:
            return False
        self._commands.take_phase(image, label)
        return True

    def put_phases_aside(self) -> None:
        """Drop the phases of a step taken apart before its update (`phasesPutAside` answers)."""
        if self.holds_trainer:
            self._commands.put_phases_aside()

    @property
    def holds_trainer(self) -> bool:
        """Whether the run's trainer is alive to save from (running, paused, stopped or finished;
        not after a failure, which ends the run's job)."""
        commands = self._commands
        return (
            commands is not None
            and not commands.done.is_set()
            and self.state.run.config is not None
        )

    def save(self, path: str | Path) -> None:
        """Write the run's checkpoint on its thread, at its next consistent moment; `checkpointSaved`
        or `errorOccurred` tells how it went."""
        self._commands.save(path, self.state.run.history.table.rows.copy())

    def shutdown(self, timeout_s: float = 1.0) -> bool:
        """End the run and wait for its job; True when it ended within the timeout."""
        commands = self._commands
        self.end()
        return commands is None or commands.done.wait(timeout_s)

    # The job's reports, on the GUI thread.
    def _on_event(self, number: int, event) -> None:
        if number != self._number:
            return
        run, shown = self.state.run, self.state.shown
        if isinstance(event, TrainingSnapshot):
            run.add_snapshot(event)
            shown.set_weights(event.model_state, event.step)
            self.snapshotReady.emit(event)
        elif isinstance(event, RunStarted):
            run.set_started(event.config, event.device)
            model = ModelOnShow(
                event.config,
                event.viewer.capabilities,
                "run",
                event.test_data,
                step=event.step,
                viewer=event.viewer,
            )
            shown.show(model, event.weights)
            if run.status is RunStatus.STARTING:
                run.set_status(RunStatus.RUNNING)
            # What the data layer noticed (images resized to one size, say) goes with the data's words.
            self.runStarted.emit("; ".join((event.described, *event.notes)))
        elif isinstance(event, RunPaused):
            if run.status is RunStatus.RUNNING:
                run.set_status(RunStatus.PAUSED)
        elif isinstance(event, RunResumed):
            if run.status in (RunStatus.PAUSED, RunStatus.STOPPED):
                run.set_status(RunStatus.RUNNING)
        elif isinstance(event, RunEnded):
            run.add_records(event.records)
            run.set_status(RunStatus.FINISHED if event.finished else RunStatus.STOPPED)
            self.runEnded.emit("finished" if event.finished else "stopped")
        elif isinstance(event, CheckpointSaved):
            self.checkpointSaved.emit(event.path)
        elif isinstance(event, SaveFailed):
            self.errorOccurred.emit(event.message)
        elif isinstance(event, PhaseTaken):
            self.phaseTaken.emit(event)
        elif isinstance(event, PhasesPutAside):
            self.phasesPutAside.emit(event.step)

    def _on_error(self, number: int, error: Exception) -> None:
        if number != self._number:
            return
        if isinstance(error, TrainingDiverged):
            message = f"{error}; the last good model is kept"
        elif isinstance(error, (torch.cuda.OutOfMemoryError, MemoryError)):
            message = OUT_OF_MEMORY_MESSAGE
        elif isinstance(error, VaeStudioError):
            message = str(error)
        else:  # a bug must not take the window down with it, but it must be seen
            traceback.print_exception(error, file=sys.stderr)
            message = f"training stopped by an unexpected error: {type(error).__name__}: {error}"
        self._commands = None  # the failure ended the job
        self.state.run.set_status(RunStatus.FAILED)
        self.errorOccurred.emit(message)
        self.runEnded.emit("failed")

    def _on_job_finished(self, number: int) -> None:
        if number == self._number and self.status.training:
            # Stopped before the trainer was built (while the data loaded): nothing to go on with.
            self._commands = None
            self.state.run.set_status(RunStatus.STOPPED)
            self.runEnded.emit("stopped")
