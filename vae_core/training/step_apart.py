"""One optimisation step of a Gaussian VAE on one input, taken apart into the phases a class
watches: encode, draw ε and z = μ + σ·ε, decode, the loss's terms, the gradient for μ and σ, the
update. The phases compute exactly what `model.loss` and one optimiser step compute, in the same
order, so that after the last phase the weights are those of one ordinary step on that input."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.errors import VaeStudioError
from vae_core.models import LatentModel
from vae_core.training.trainer import Trainer, TrainingSnapshot

# What the seed (shared/seed/variational-autoencoders.txt) says of each phase, in a line.
PHASE_LINES = {
    "encode": "Amortized inference: the encoder maps x to q(z|x) = N(μ, σ²), no optimisation per x.",
    "reparameterize": "The reparameterization trick: ε ~ N(0, I), z = μ + σ·ε, so the draw is "
    "differentiable in μ and σ.",
    "decode": "The decoder gives p(x|z): the image it expects for this z.",
    "loss": "The negative ELBO: reconstruction error −log p(x|z) plus β × KL(q(z|x) ‖ p(z)).",
    "gradient": "Back-propagation through z = μ + σ·ε: how the loss changes with μ and σ.",
    "update": "The optimiser moves every weight against its gradient: q(z|x) moves with them.",
}
PHASES = tuple(PHASE_LINES)


@dataclass(frozen=True)
class StepPhase:
    """What is known once `name` has run (arrays of one input, on the CPU); later phases keep the
    earlier phases' values. μ and σ are q(z|x)'s before the update."""

    name: str
    says: str
    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)
    epsilon: np.ndarray | None = None  # (D,)
    code: np.ndarray | None = None  # (D,) z = μ + σ·ε
    decoded: np.ndarray | None = None  # (C, H, W) the likelihood's mean, in [0, 1]
    recon: float | None = None  # −log p(x|z), nats
    kl: float | None = None  # KL(q(z|x) ‖ p(z)), nats
    kl_per_dim: np.ndarray | None = None  # (D,) its terms, for the run's curves
    loss: float | None = None  # recon + β kl
    mean_gradient: np.ndarray | None = None  # (D,) ∂loss/∂μ
    std_gradient: np.ndarray | None = None  # (D,) ∂loss/∂σ
    updated_mean: np.ndarray | None = None  # (D,) q(z|x)'s after the update
    updated_std: np.ndarray | None = None


def check_step_apart_applies(model: LatentModel) -> None:
    """A step taken apart draws one Gaussian code of one layer with a single-sample ELBO."""
    capabilities = model.capabilities
    if not capabilities.samples_posterior or capabilities.latent_layers != 1:
        raise VaeStudioError(
            "a step taken apart needs a model with one Gaussian latent layer (vae, cvae)"
        )
    config = model.config
    if config.iw_samples != 1 or config.gradient_estimator != "iwae":
        raise VaeStudioError(
            "a step taken apart draws one sample of the ELBO: train with 1 importance sample "
            f"and the plain gradient, not {config.iw_samples} and {config.gradient_estimator}"
        )
    if config.free_bits > 0:
        raise VaeStudioError("a step taken apart shows the plain ELBO: train without free bits")


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().double().cpu().numpy().copy()


def step_apart(
    model: LatentModel,
    optimizer,
    image: torch.Tensor,
    y: torch.Tensor | None = None,
    beta: float = 1.0,
    generator: torch.Generator | None = None,
) -> Iterator[StepPhase]:
    """Yields a StepPhase after each phase of one step on `image` (1, C, H, W) in [0, 1] with
    label y (1,) or None; the step is over (the weights updated) when the generator ends. The
    random draws (the observation, ε) come from `generator` in the order a trainer's step makes
    them; the optimiser steps with the learning rate its group holds."""
    check_step_apart_applies(model)
    model.train()
    optimizer.zero_grad()
    x = model.observe(image, generator)
    posterior = model.encode(x, y)
    posterior.mean.retain_grad()
    posterior.log_var.retain_grad()
    std = posterior.std.detach()
    phase = StepPhase("encode", PHASE_LINES["encode"], _numpy(posterior.mean[0]), _numpy(std[0]))
    yield phase
    z = posterior.rsample(generator)  # (1, D): the draw `elbo_terms` makes
    epsilon = (z - posterior.mean) / std
    phase = _next(phase, "reparameterize", epsilon=_numpy(epsilon[0]), code=_numpy(z[0]))
    yield phase
    decoded = model.decode(z, y)
    phase = _next(phase, "decode", decoded=_numpy(model.likelihood.mean(decoded)[0].clamp(0, 1)))
    yield phase
    recon = (-model.likelihood.log_prob(x, decoded)).mean()
    kl, kl_per_dim = model.prior.kl(posterior, z)
    kl = kl.mean()
    loss = recon + beta * kl
    phase = _next(
        phase,
        "loss",
        recon=recon.item(),
        kl=kl.item(),
        kl_per_dim=_numpy(kl_per_dim.mean(0)),
        loss=loss.item(),
    )
    yield phase
    loss.backward()
    # The encoder outputs log σ²; with σ = exp(log σ² / 2), ∂loss/∂σ = ∂loss/∂log σ² · 2/σ.
    phase = _next(
        phase,
        "gradient",
        mean_gradient=_numpy(posterior.mean.grad[0]),
        std_gradient=_numpy(posterior.log_var.grad[0] * 2 / std[0]),
    )
    yield phase
    optimizer.step()
    with torch.no_grad():
        moved = model.encode(x, y)
    yield _next(
        phase, "update", updated_mean=_numpy(moved.mean[0]), updated_std=_numpy(moved.std[0])
    )


# The phases that run the model forward: in the run's precision, as its steps' forward pass.
_FORWARD_PHASES = frozenset({"encode", "reparameterize", "decode", "loss"})


class _RunsOptimizer:
    """A trainer's optimiser as `step_apart` steps it: at the run's scheduled learning rate, with
    its weight average and step count after it (`Trainer.step_optimizer`)."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.step_lr: float | None = None

    def zero_grad(self) -> None:
        self.trainer.optimizer.zero_grad()

    def step(self) -> None:
        self.step_lr = self.trainer.step_optimizer()


def step_apart_in_run(
    trainer: Trainer, image: torch.Tensor, y: torch.Tensor | None = None
) -> Generator[StepPhase, None, TrainingSnapshot]:
    """One of a run's steps taken apart on `image` (1, C, H, W) with label y (1,) or None: a
    StepPhase after each phase, as `step_apart`; the generator returns the step's snapshot. The
    step is the run's as its ordinary steps are: the scheduled β and learning rate, the run's
    random stream, weight average and step count (its data order stays where it was)."""
    beta = trainer.beta
    optimizer = _RunsOptimizer(trainer)
    device = trainer.device
    phases = step_apart(
        trainer.model,
        optimizer,
        image.to(device),
        None if y is None else y.to(device),
        beta,
        trainer.generator,
    )
    compute_s = 0.0
    for name in PHASES:
        started = time.perf_counter()
        with trainer.autocast() if name in _FORWARD_PHASES else contextlib.nullcontext():
            phase = next(phases)
        compute_s += time.perf_counter() - started
        yield phase
    terms = {
        name: torch.tensor(getattr(phase, name), device=device)
        for name in ("loss", "recon", "kl", "kl_per_dim")
    }
    return trainer.step_snapshot(terms, beta, optimizer.step_lr, compute_s)


def _next(phase: StepPhase, name: str, **known) -> StepPhase:
    return dataclasses.replace(phase, name=name, says=PHASE_LINES[name], **known)
