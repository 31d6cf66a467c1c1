"""The run's job driven as the controller's worker drives it, but on the test's thread and with no
Qt: commands go into its mailbox while its generator is suspended at a yield, and what it yields
next says what it did. A job that would wait for a command is ended instead, and the step it
waited at is recorded: budgets in events and steps, never in seconds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.controllers.pacing import LogPacer
from app.controllers.run_job import (
    CheckpointSaved,
    RunCommands,
    RunEnded,
    RunPaused,
    RunStarted,
    run_job,
)
from app.workers import DataCache
from vae_core.checkpoint import load_checkpoint
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.training.trainer import TrainingSnapshot

# Snapshots every 5 steps, never re-paced by the model's speed.
PACER = LogPacer(tolerance=math.inf, first_log_every=5)


class WaitsRecorded(RunCommands):
    """A mailbox whose blocking wait, with nothing in it, records the trainer's step and ends the
    job (a real one would wait there for the next command)."""

    def __init__(self) -> None:
        super().__init__(beta=1.0, learning_rate=1e-3)
        self.waited_at: list[int] = []

    def attach(self, trainer) -> None:
        super().attach(trainer)
        self.trainer = trainer

    def next_request(self, wait_s: float = 0.0):
        request = super().next_request(0.0)
        if request is None and wait_s > 0 and not self.ended.is_set():
            self.waited_at.append(self.trainer.step)
            self.end()
        return request


def started_job():
    """A run's job at its first snapshot (step 5): its mailbox and its events."""
    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=600),
        model=ModelConfig(hidden=(16,), latent_dim=2),
        train=TrainConfig(batch_size=50, max_steps=1000, seed=0, device="cpu", heldout_every=0),
    )
    commands = WaitsRecorded()
    events = run_job(config, None, commands, DataCache(), PACER)
    assert isinstance(next(events), RunStarted)
    first = next(events)
    assert isinstance(first, TrainingSnapshot) and first.step == 5
    return commands, events


@pytest.fixture
def job():
    commands, events = started_job()
    yield commands, events
    events.close()


def _described(event) -> tuple:
    """An event as (kind, step), so that a sequence of them reads as what the run did."""
    return type(event).__name__, event.step


def test_step_takes_exactly_one_step_and_a_pause_holds(job):
    commands, events = job
    commands.pause()
    assert _described(next(events)) == ("RunPaused", 5)
    for step in (6, 7):
        commands.step()
        assert [_described(next(events)) for _ in range(2)] == [
            ("TrainingSnapshot", step),
            ("RunPaused", step),
        ]
    # Paused with no command: the job waits where it is, at step 7, and trains no further.
    ended = next(events)
    assert commands.waited_at == [7] and _described(ended) == ("RunEnded", 7)
    assert not ended.finished


def test_resume_goes_on_from_the_pause(job):
    commands, events = job
    commands.pause()
    commands.resume()
    assert [_described(next(events)) for _ in range(3)] == [
        ("RunPaused", 5),
        ("RunResumed", 5),
        ("TrainingSnapshot", 10),
    ]
    assert commands.waited_at == []


@pytest.mark.parametrize("paused", [False, True])
def test_stop_ends_the_training_within_one_event_and_continue_goes_on(job, paused):
    commands, events = job
    if paused:
        commands.pause()
        assert isinstance(next(events), RunPaused)
    commands.stop()
    ended = next(events)  # no snapshot comes between a stop and the run's end
    assert _described(ended) == ("RunEnded", 5) and not ended.finished
    commands.continue_run()
    assert [_described(next(events)) for _ in range(2)] == [
        ("RunResumed", 5),
        ("TrainingSnapshot", 10),
    ]


def test_edits_and_saves_are_served_between_two_snapshots(job, tmp_path):
    commands, events = job
    seen = []
    commands.edit(lambda trainer: seen.append(trainer.step))
    path = tmp_path / "between.safetensors"
    commands.save(path, history=_no_history())
    saved = next(events)
    assert seen == [5] and isinstance(saved, CheckpointSaved) and saved.path == str(path)
    assert int(load_checkpoint(path).counters["step"]) == 5
    assert _described(next(events)) == ("TrainingSnapshot", 10)


def test_a_stopped_run_serves_saves_and_ignores_the_commands_of_a_running_one(job, tmp_path):
    commands, events = job
    commands.stop()
    assert isinstance(next(events), RunEnded)
    for command in (commands.pause, commands.step, commands.resume, commands.stop):
        command()
    path = tmp_path / "stopped.safetensors"
    commands.save(path, history=_no_history())
    assert isinstance(next(events), CheckpointSaved)
    # Nothing else to do: the job waits for Continue at the step it stopped at.
    with pytest.raises(StopIteration):
        next(events)
    assert commands.waited_at == [5]


def _no_history() -> np.ndarray:
    return np.empty((0, len(METRICS_COLUMNS)))


def test_a_run_ended_returns_at_once_and_stops_its_trainer_for_good(job):
    commands, events = job
    commands.end()  # another model on show, or the window closing
    ended = next(events)
    assert _described(ended) == ("RunEnded", 5)
    with pytest.raises(StopIteration):
        next(events)
    assert commands.done.is_set() and commands.waited_at == []
    # Stopped for good (an interval under way would have stopped at its next step): no step more.
    assert list(commands.trainer.run()) == [] and commands.trainer.step == 5


class _SettingsTaken:
    """Records the β and learning rates a trainer is given."""

    def __init__(self):
        self.betas, self.learning_rates = [], []

    def set_beta(self, beta):
        self.betas.append(beta)

    def set_learning_rate(self, learning_rate):
        self.learning_rates.append(learning_rate)


def test_a_stopping_run_keeps_its_beta_until_it_has_stopped():
    """Leave lesson stops the lesson's run and then puts the user's β back: the steps taken before
    the stop's snapshot must not train with it; once stopped, the run holds the β set last (a
    step taken apart or Continue uses it)."""
    commands, trainer = RunCommands(beta=4.0, learning_rate=1e-3), _SettingsTaken()
    commands.attach(trainer)
    commands.stop()
    commands.set_beta(0.37)
    commands.set_learning_rate(5e-4)
    assert trainer.betas == [4.0] and trainer.learning_rates == [1e-3]
    commands.held()  # the job: the run has stopped
    assert trainer.betas == [4.0, 0.37] and trainer.learning_rates == [1e-3, 5e-4]
    commands.set_beta(2.0)
    assert trainer.betas[-1] == 2.0
