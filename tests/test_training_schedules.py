"""Learning-rate schedules against their closed forms, the trainer applying them, and Adam's
betas and eps reaching every implementation."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from vae_core import optimizer as optimizer_module
from vae_core.checkpoint import load_checkpoint, save_trainer
from vae_core.cli import build_parser
from vae_core.config import ConfigError, RunConfig, TrainConfig
from vae_core.errors import VaeStudioError
from vae_core.optimizer import make_adam
from vae_core.training.schedules import LR_SCHEDULES, ScheduleClock
from vae_core.training.trainer import Trainer


def _multiplier(
    name: str, step: int, progress: float = 0.0, steps_per_epoch: int = 10, **changes
) -> float:
    return LR_SCHEDULES[name](
        ScheduleClock(step, steps_per_epoch, progress), TrainConfig(**changes)
    )


def test_the_constant_schedule_never_moves():
    assert {_multiplier("constant", step, step / 1e5) for step in (0, 7, 99_999)} == {1.0}


@pytest.mark.parametrize(
    ("step", "progress", "expected"),
    [
        (0, 0.0, 1 / 10),  # the first of 10 warm-up steps
        (4, 0.0, 5 / 10),
        (9, 0.0, 1.0),  # warmed up, the cosine at its top
        (500, 0.25, (2 + math.sqrt(2)) / 4),  # ½(1 + cos π/4)
        (500, 0.5, 0.5),
        (500, 1.0, 0.0),
        (5, 0.5, 6 / 10 * 0.5),  # both at once
    ],
)
def test_cosine_is_a_linear_warm_up_times_half_a_cosine(step, progress, expected):
    assert _multiplier("cosine", step, progress, lr_warmup_steps=10) == pytest.approx(
        expected, abs=1e-15
    )


@pytest.mark.parametrize(
    ("epoch", "stage"),
    # Stage i begins at epoch (3^i - 1) / 2 and lasts 3^i epochs; the last one holds after 3,280.
    [
        (0, 0),
        (1, 1),
        (3, 1),
        (4, 2),
        (12, 2),
        (13, 3),
        (39, 3),
        (40, 4),
        (120, 4),
        (121, 5),
        (363, 5),
        (364, 6),
        (1092, 6),
        (1093, 7),
        (3279, 7),
        (10_000, 7),
    ],
)
def test_burda_decays_by_ten_to_the_minus_i_over_7_for_3_to_the_i_epochs(epoch, stage):
    steps_per_epoch = 10
    for step in (epoch * steps_per_epoch, epoch * steps_per_epoch + steps_per_epoch - 1):
        assert _multiplier("burda", step, steps_per_epoch=steps_per_epoch) == pytest.approx(
            10 ** (-stage / 7), rel=1e-15
        )


def _config(small_config, **changes):
    return dataclasses.replace(
        small_config, train=dataclasses.replace(small_config.train, **changes)
    )


class _RecordingStep:
    """Wraps an optimizer's step to record the learning rate each step ran with."""

    def __init__(self, optimizer):
        self.rates = []
        self._optimizer, self._step = optimizer, optimizer.step
        optimizer.step = self

    def __call__(self):
        self.rates.append(self._optimizer.param_groups[0]["lr"])
        self._step()


def test_the_trainer_steps_with_the_base_rate_times_the_schedule(small_config, small_glyphs):
    trainer = Trainer(
        _config(
            small_config,
            lr_schedule="cosine",
            lr_warmup_steps=4,
            max_steps=20,
            log_every=10,
            lr=0.01,
        ),
        small_glyphs,
    )
    recorder = _RecordingStep(trainer.optimizer)
    snapshots = []
    for snapshot in trainer.run():
        snapshots.append(snapshot)
        trainer.set_learning_rate(0.002)  # the window moves the base; the schedule still shapes it
    bases = [0.01] * 10 + [0.002] * 10
    expected = [
        base * min(1, (step + 1) / 4) * 0.5 * (1 + math.cos(math.pi * step / 20))
        for step, base in enumerate(bases)
    ]
    assert recorder.rates == pytest.approx(expected, rel=1e-12)
    assert [s.learning_rate for s in snapshots] == pytest.approx(
        [expected[9], expected[19]], rel=1e-12
    )
    assert trainer.optimizer.param_groups[0]["lr"] == trainer.base_learning_rate == 0.002


def test_a_resumed_run_keeps_its_base_rate_and_its_place_in_the_schedule(
    small_config, small_glyphs, tmp_path
):
    config = _config(small_config, lr_schedule="burda", max_steps=30, log_every=10)
    trainer = Trainer(config, small_glyphs)
    trainer.set_learning_rate(0.005)
    run = trainer.run()
    next(run)
    path = tmp_path / "checkpoint.safetensors"
    save_trainer(path, trainer)
    checkpoint = load_checkpoint(path)
    resumed = Trainer(config, small_glyphs)
    resumed.restore(checkpoint.model_state, checkpoint.optimizer_state, checkpoint.counters)
    assert resumed.base_learning_rate == 0.005
    # 10 steps of 500 / 50 = 10 per epoch: the second epoch is Burda's second stage.
    assert resumed.learning_rate == trainer.learning_rate == pytest.approx(0.005 * 10 ** (-1 / 7))


@pytest.mark.parametrize("implementation", ["kernel", "fused", "fallback"])
def test_adam_betas_and_eps_reach_every_implementation(implementation, monkeypatch):
    if implementation != "kernel":
        monkeypatch.setattr(optimizer_module, "_kernel_adam_runs", lambda device, dtype: False)
    if implementation == "fallback":
        monkeypatch.setattr(optimizer_module, "_fused_adam_runs", lambda device, dtype: False)
    parameter = torch.zeros(2, requires_grad=True)
    optimizer = make_adam([parameter], lr=0.1, betas=(0.5, 0.75), eps=1.0)
    assert (
        optimizer.param_groups[0]["betas"] == (0.5, 0.75)
        and optimizer.param_groups[0]["eps"] == 1.0
    )
    gradient = torch.tensor([1.0, -3.0])
    for _ in range(2):
        parameter.grad = gradient.clone()
        optimizer.step()
    # Under a constant gradient g the bias-corrected moments are g and g², so each step moves
    # lr · g / (|g| + eps): the eps of 1 makes it lr·g/(|g|+1), not lr·sign(g).
    assert parameter.detach() == pytest.approx(
        -2 * 0.1 * gradient / (gradient.abs() + 1.0), rel=1e-5
    )


def test_the_trainer_builds_adam_with_the_configured_betas_and_eps(small_config, small_glyphs):
    trainer = Trainer(_config(small_config, adam_betas=(0.8, 0.99), adam_eps=1e-4), small_glyphs)
    group = trainer.optimizer.param_groups[0]
    assert (group["betas"], group["eps"]) == ((0.8, 0.99), 1e-4)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[train]\nadam_betas = [0.9]\n", "'train.adam_betas' must hold 2 numbers"),
        ("[train]\nadam_betas = [0.9, 1.0]\n", "'train.adam_betas' must be less than 1"),
        ("[train]\nadam_eps = 0\n", "'train.adam_eps' must be more than 0"),
    ],
)
def test_bad_adam_settings_in_a_config_are_named(toml, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_toml(toml)


def test_an_unknown_lr_schedule_is_named(small_config, small_glyphs):
    with pytest.raises(VaeStudioError, match="unknown learning-rate schedule 'step'"):
        Trainer(_config(small_config, lr_schedule="step"), small_glyphs)


def test_the_flags_set_schedule_and_adam(capsys):
    arguments = build_parser().parse_args(
        [
            "train",
            "--out",
            "r",
            "--lr-schedule",
            "burda",
            "--adam-betas",
            "0.9,0.999",
            "--adam-eps",
            "1e-4",
        ]
    )
    assert (arguments.lr_schedule, arguments.adam_betas, arguments.adam_eps) == (
        "burda",
        (0.9, 0.999),
        1e-4,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--out", "r", "--adam-betas", "0.9"])
    assert "expected two numbers in [0, 1)" in capsys.readouterr().err
