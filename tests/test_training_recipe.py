"""The recipe's levers: the weights' moving average (its update, its checkpoint round trip, what
evaluate loads), Adamax against its update rule, and free bits."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vae_core.checkpoint import load_checkpoint, load_model, save_checkpoint, save_trainer
from vae_core.errors import VaeStudioError
from vae_core.models.base import free_bits_kl
from vae_core.training.adamax import Adamax
from vae_core.training.ema import WeightAverage
from vae_core.training.trainer import Trainer


def _trainer(small_config, small_glyphs, **train_changes) -> Trainer:
    train = dataclasses.replace(small_config.train, **train_changes)
    return Trainer(dataclasses.replace(small_config, train=train), small_glyphs)


def test_the_average_follows_its_closed_form():
    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, decay=0.9)
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]
    expected = 0.0
    for n, value in enumerate(values):
        with torch.no_grad():
            layer.weight.fill_(value)
        average.update(layer)
        decay = min(0.9, (1 + n) / (10 + n))  # 0.1, 0.18, ... then 0.9 from the 71st
        expected = decay * expected + (1 - decay) * value
    assert average.average["weight"].item() == pytest.approx(expected, rel=1e-6)


def test_the_average_rides_in_the_checkpoint_and_evaluate_loads_it(
    small_config, small_glyphs, tmp_path
):
    trainer = _trainer(small_config, small_glyphs, weight_ema=0.9)
    for _ in trainer.run():
        pass
    raw, averaged = trainer.weights(), trainer.ema.state()
    assert any(not torch.equal(raw[name], averaged[name]) for name in averaged)
    path = tmp_path / "checkpoint.safetensors"
    save_trainer(path, trainer)
    checkpoint = load_checkpoint(path)
    assert all(torch.equal(checkpoint.model_state[name], raw[name]) for name in raw)
    assert all(torch.equal(checkpoint.ema_state[name], averaged[name]) for name in averaged)
    model, _ = load_model(path)
    assert all(torch.equal(model.state_dict()[name], averaged[name]) for name in averaged)
    # A resumed run goes on from the saved average, not from its raw weights.
    resumed = _trainer(small_config, small_glyphs, weight_ema=0.9)
    resumed.restore(
        checkpoint.model_state,
        checkpoint.optimizer_state,
        checkpoint.counters,
        checkpoint.ema_state,
    )
    assert resumed.ema.updates == trainer.step
    assert all(torch.equal(resumed.ema.average[name], averaged[name]) for name in averaged)


def test_a_checkpoint_without_an_average_loads_its_weights(small_config, small_glyphs, tmp_path):
    trainer = _trainer(small_config, small_glyphs)
    path = tmp_path / "plain.safetensors"
    save_checkpoint(path, trainer.config, trainer.weights())
    assert load_checkpoint(path).ema_state is None
    model, _ = load_model(path)
    assert all(
        torch.equal(value, trainer.weights()[name]) for name, value in model.state_dict().items()
    )


def test_adamax_takes_its_published_steps():
    parameter = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = Adamax([parameter], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    mean = torch.zeros(2, dtype=torch.float64)
    norm = torch.zeros(2, dtype=torch.float64)
    expected = parameter.detach().double().clone()
    for t, gradient in enumerate(([0.5, -1.0], [-0.2, 3.0], [0.1, 0.1]), start=1):
        gradient = torch.tensor(gradient, dtype=torch.float64)
        parameter.grad = gradient.float()
        optimizer.step()
        mean = 0.9 * mean + 0.1 * gradient
        norm = torch.maximum(0.99 * norm, gradient.abs() + 1e-8)
        expected -= 0.1 / (1 - 0.9**t) * mean / norm
        assert torch.allclose(parameter.detach().double(), expected, atol=1e-6)


def test_adamax_trains_and_resumes_through_a_checkpoint(small_config, small_glyphs, tmp_path):
    trainer = _trainer(small_config, small_glyphs, optimizer="adamax")
    for _ in trainer.run():
        pass
    path = tmp_path / "checkpoint.safetensors"
    save_trainer(path, trainer)
    checkpoint = load_checkpoint(path)
    resumed = _trainer(small_config, small_glyphs, optimizer="adamax")
    resumed.restore(checkpoint.model_state, checkpoint.optimizer_state, checkpoint.counters)
    saved = trainer.optimizer.state_dict()["state"]
    assert all(
        torch.equal(
            state["exp_avg_sq"], resumed.optimizer.state_dict()["state"][index]["exp_avg_sq"]
        )
        for index, state in saved.items()
    )


def test_free_bits_count_each_dimension_at_least_their_nats():
    kl_per_dim = torch.tensor([[0.1, 2.0, 0.0], [0.3, 4.0, 0.2]])  # batch means 0.2, 3.0, 0.1
    assert free_bits_kl(kl_per_dim.sum(1).mean(), kl_per_dim, 0.0).item() == pytest.approx(3.3)
    assert free_bits_kl(kl_per_dim.sum(1).mean(), kl_per_dim, 0.5).item() == pytest.approx(4.0)


def test_free_bits_above_every_dimensions_kl_leave_the_loss_its_reconstruction(
    small_config, small_glyphs
):
    """Below its free nats a dimension's KL is counted as those nats, a constant: with free bits far
    above every dimension's KL the loss is the reconstruction plus D times them."""
    model_config = dataclasses.replace(small_config.model, free_bits=100.0)
    trainer = Trainer(dataclasses.replace(small_config, model=model_config), small_glyphs)
    x, _ = small_glyphs.train.batch(torch.arange(50))
    model = trainer.model
    terms = model.loss(x, generator=torch.Generator().manual_seed(0))
    assert terms["loss"].item() == pytest.approx(terms["recon"].item() + 100.0 * 2, rel=1e-6)
    assert terms["kl"].item() < 50.0  # the reported KL is the true one


def test_free_bits_with_the_iwae_bound_are_one_line(small_config, small_glyphs):
    model_config = dataclasses.replace(small_config.model, free_bits=0.1, iw_samples=5)
    with pytest.raises(VaeStudioError, match="free bits apply to the ELBO"):
        Trainer(dataclasses.replace(small_config, model=model_config), small_glyphs)
