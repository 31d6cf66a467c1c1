"""A step taken apart inside the run's job, driven as in test_app_run_job (no Qt, budgets in
events): one phase per command while the run is held, the step's snapshot after the last one,
and a step put aside by any other command leaving the run as if it had never begun."""

from __future__ import annotations

import pytest
import torch

from app.controllers.step_apart_job import PhasesPutAside, PhaseTaken
from tests.test_app_run_job import _described, started_job
from vae_core.training.step_apart import PHASES
from vae_core.training.trainer import TrainingSnapshot


def _first_test_image(commands):
    image = commands.trainer.data.batch(torch.tensor([0]))[0]
    return image, None


def _paused(commands, events):
    commands.pause()
    assert _described(next(events)) == ("RunPaused", 5)


def test_each_command_takes_one_phase_and_the_last_one_steps_the_run():
    commands, events = started_job()
    _paused(commands, events)
    image, label = _first_test_image(commands)
    for name in PHASES:
        commands.take_phase(image, label)
        taken = next(events)
        assert isinstance(taken, PhaseTaken) and taken.phase.name == name
        assert taken.step == (6 if name == PHASES[-1] else 5)
    snapshot = next(events)
    assert isinstance(snapshot, TrainingSnapshot) and snapshot.step == 6
    assert snapshot.loss == pytest.approx(taken.phase.loss, rel=1e-6)
    # Still paused: an ordinary Step goes on from the step taken apart.
    commands.step()
    assert [_described(next(events)) for _ in range(2)] == [
        ("TrainingSnapshot", 7),
        ("RunPaused", 7),
    ]


def _stepped_weights(phases_first: int) -> dict[str, torch.Tensor]:
    """A run paused at step 5 takes `phases_first` phases, then one ordinary Step: the weights."""
    commands, events = started_job()
    _paused(commands, events)
    image, label = _first_test_image(commands)
    for _ in range(phases_first):
        commands.take_phase(image, label)
        assert isinstance(next(events), PhaseTaken)
    before = commands.trainer.weights()
    commands.step()
    if phases_first:
        put_aside = next(events)
        assert isinstance(put_aside, PhasesPutAside) and put_aside.step == 5
        for name, value in commands.trainer.weights().items():
            assert torch.equal(value, before[name]), name
    snapshot = next(events)
    assert _described(snapshot) == ("TrainingSnapshot", 6)
    events.close()
    return snapshot.model_state


@pytest.mark.parametrize("phases_first", [1, len(PHASES) - 1])
def test_a_step_put_aside_leaves_the_run_as_if_it_had_never_begun(phases_first):
    """Put aside after the encoding or after the gradient (the last phase before the update):
    the weights are untouched, and the ordinary step that follows is bit for bit that of a run
    that never took a phase (the same draws, no stale gradient)."""
    taken_apart = _stepped_weights(phases_first)
    untouched = _stepped_weights(0)
    for name, value in taken_apart.items():
        assert torch.equal(value, untouched[name]), name


def test_a_running_run_takes_no_phase_and_a_stopped_one_does():
    commands, events = started_job()
    image, label = _first_test_image(commands)
    commands.take_phase(image, label)  # running: dropped, the run trains on
    assert _described(next(events)) == ("TrainingSnapshot", 10)
    commands.stop()
    assert _described(next(events)) == ("RunEnded", 10)
    for name in PHASES:
        commands.take_phase(image, label)
        assert next(events).phase.name == name
    assert _described(next(events)) == ("TrainingSnapshot", 11)
    events.close()
