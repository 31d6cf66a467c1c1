"""A training step taken apart: each phase's numbers against the linear Gaussian model's closed
forms, and the weights after the last phase against one ordinary step's."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.test_linear_gaussian import (
    NOISE_VAR,
    _draw_data,
    _linear_model,
    _orthogonal_decoder,
    _small_images,
)
from vae_core.config import ModelConfig, RunConfig, TrainConfig
from vae_core.data import DataSplit
from vae_core.errors import VaeStudioError
from vae_core.models import build_model
from vae_core.optimizer import make_adam
from vae_core.training.step_apart import PHASES, step_apart, step_apart_in_run
from vae_core.training.trainer import Trainer

BETA = 0.7


def _phases(model, image, seed=5):
    optimizer = make_adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    return list(step_apart(model, optimizer, image, beta=BETA, generator=generator))


def test_the_phases_come_in_order_and_each_says_what_it_is():
    model = _linear_model()
    weight, bias = _orthogonal_decoder(model)
    phases = _phases(model, _draw_data(weight, bias, 1))
    assert tuple(phase.name for phase in phases) == PHASES
    assert all(phase.says for phase in phases)
    assert phases[0].epsilon is None and phases[1].epsilon is not None
    assert phases[-1].updated_mean is not None
    assert not (phases[-1].updated_mean == phases[-1].mean).all()


def test_the_gradient_for_mu_and_sigma_is_the_closed_form_of_the_linear_gaussian_loss():
    model = _linear_model()
    weight, bias = _orthogonal_decoder(model)
    x = _draw_data(weight, bias, 1)
    *_, gradient, _ = _phases(model, x)
    mean, std = torch.tensor(gradient.mean), torch.tensor(gradient.std)
    epsilon, z = torch.tensor(gradient.epsilon), torch.tensor(gradient.code)
    assert torch.allclose(z, mean + std * epsilon)
    # recon = |x - Wz - b|² / 2σ² + const, KL(N(μ, s²) || N(0, I)) = Σ (μ² + s² - 1 - log s²) / 2.
    residual = x.reshape(-1) - weight @ z - bias
    recon_by_z = -weight.T @ residual / NOISE_VAR
    expected_mean = recon_by_z + BETA * mean
    expected_std = epsilon * recon_by_z + BETA * (std - 1 / std)
    assert torch.allclose(torch.tensor(gradient.mean_gradient), expected_mean, atol=1e-9)
    assert torch.allclose(torch.tensor(gradient.std_gradient), expected_std, atol=1e-9)
    expected_recon = 0.5 * (residual.square().sum() / NOISE_VAR) + 6 * torch.log(
        torch.tensor(2 * torch.pi * NOISE_VAR, dtype=torch.float64)
    )
    assert gradient.recon == pytest.approx(float(expected_recon), abs=1e-9)
    expected_kl = 0.5 * float((mean.square() + std.square() - 1 - torch.log(std.square())).sum())
    assert gradient.kl == pytest.approx(expected_kl, abs=1e-9)
    assert gradient.loss == pytest.approx(gradient.recon + BETA * gradient.kl, abs=1e-9)


def _ordinary_step(model, image, seed=5):
    optimizer = make_adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    observed = model.observe(image, generator)
    terms = model.loss(observed, None, beta=BETA, generator=generator)
    optimizer.zero_grad()
    terms["loss"].backward()
    optimizer.step()


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(arch="linear", likelihood="gaussian", latent_dim=2, input_shape=(1, 3, 4)),
        ModelConfig(arch="mlp", hidden=(16,), latent_dim=3, input_shape=(1, 4, 4)),
        ModelConfig(arch="mlp", hidden=(16,), latent_dim=2, input_shape=(1, 4, 4), prior="vamp"),
    ],
    ids=["linear gaussian", "bernoulli mlp", "vamp prior"],
)
def test_after_the_last_phase_the_weights_are_one_ordinary_steps(config):
    torch.manual_seed(0)
    taken_apart = build_model(config)
    ordinary = copy.deepcopy(taken_apart)
    image = torch.rand(1, *config.input_shape, generator=torch.Generator().manual_seed(1))
    _phases(taken_apart, image)
    _ordinary_step(ordinary, image)
    for (name, apart), (_, whole) in zip(
        taken_apart.state_dict().items(), ordinary.state_dict().items()
    ):
        assert torch.equal(apart, whole), name


@pytest.mark.parametrize(
    "config, message",
    [
        (ModelConfig(family="vqvae", latent_dim=2, input_shape=(1, 4, 4)), "one Gaussian latent"),
        (ModelConfig(latent_dim=2, input_shape=(1, 4, 4), iw_samples=3), "1 importance sample"),
        (
            ModelConfig(latent_dim=2, input_shape=(1, 4, 4), gradient_estimator="dreg"),
            "the plain gradient",
        ),
        (ModelConfig(latent_dim=2, input_shape=(1, 4, 4), free_bits=0.5), "without free bits"),
    ],
)
def test_a_model_it_does_not_apply_to_is_refused_in_one_line(config, message):
    model = build_model(config)
    with pytest.raises(VaeStudioError, match=message):
        _phases(model, torch.rand(1, *config.input_shape))


def _run_trainer():
    data = DataSplit(train=_small_images(60, 0), test=_small_images(10, 1))
    config = RunConfig(
        model=ModelConfig(arch="linear", likelihood="gaussian", latent_dim=2),
        train=TrainConfig(
            max_steps=50,
            batch_size=20,
            lr=3e-2,
            lr_schedule="cosine",
            weight_ema=0.9,
            device="cpu",
            log_every=1,
            heldout_every=0,
            beta=0.5,
        ),
    )
    trainer = Trainer(config, data)
    for _ in zip(range(3), trainer.run()):  # three ordinary steps: Adam's moments are not zero
        pass
    return trainer, data.test.batch(torch.tensor([0]))[0]


def _all_phases(generator):
    """The phases a run's step taken apart yields, and the snapshot it returns."""
    phases = []
    while True:
        try:
            phases.append(next(generator))
        except StopIteration as end:
            return phases, end.value


def test_a_runs_step_taken_apart_is_its_ordinary_step_on_that_input():
    """The run's scheduled rate (cosine), β, random stream, weight average and step count: the
    same as one step of the trainer's own on that input, with the same draws."""
    (apart, image), (whole, _) = _run_trainer(), _run_trainer()
    phases, snapshot = _all_phases(step_apart_in_run(apart, image))
    observed = whole.model.observe(image, whole.generator)
    terms = whole.model.loss(observed, None, beta=whole.beta, generator=whole.generator)
    whole.optimizer.zero_grad()
    terms["loss"].backward()
    whole.step_optimizer()
    assert apart.step == whole.step == 4
    for (name, value), other in zip(
        apart.model.state_dict().items(), whole.model.state_dict().values()
    ):
        assert torch.equal(value, other), name
    for name, value in apart.ema.average.items():
        assert torch.equal(value, whole.ema.average[name]), name
    assert torch.equal(apart.generator.get_state(), whole.generator.get_state())
    moments = apart.optimizer.state_dict()["state"], whole.optimizer.state_dict()["state"]
    for index, state in moments[0].items():
        for key, value in state.items():
            assert torch.equal(value, moments[1][index][key]), (index, key)
    assert apart.optimizer.param_groups[0]["lr"] == whole.optimizer.param_groups[0]["lr"] == 3e-2
    assert [phase.name for phase in phases] == list(PHASES)
    assert snapshot.step == 4 and snapshot.model_state is not None
    # The curves' point is this step's: its loss terms on the one input, β as scheduled.
    assert snapshot.loss == pytest.approx(terms["loss"].item(), rel=1e-6)
    assert snapshot.kl == pytest.approx(phases[-1].kl, rel=1e-6) and snapshot.beta == 0.5
