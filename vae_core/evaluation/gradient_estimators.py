"""The seed's two ways to a gradient through a sample: the reparameterization trick and the
log-derivative (score-function, REINFORCE) trick, compared by their variance at K samples.

What both estimate: the gradient of one input's ELBO with respect to the encoder's outputs, the
mean μ and the log-variance s = log σ² of q(z|x) = N(μ, diag σ²). The ELBO splits as

    ELBO(μ, s) = E_q[log p(x, z)] + H(q),   H(q) = ½ Σ_d (log 2πe + s_d),

and the entropy's gradient is exact (0 for μ, ½ for each s_d): it is added to both estimators
alike, so they differ only where they must, in the gradient of E_q[log p(x, z)]. With ε ~ N(0, I)
and z = μ + σ ε, one draw gives

    reparameterization:  ∂/∂μ = ∇_z log p(x, z),          ∂/∂s = ∇_z log p(x, z) · ε σ / 2
    score function:      ∂/∂μ = log p(x, z) · ε / σ,       ∂/∂s = log p(x, z) · (ε² − 1) / 2

(the second is log p(x, z) ∇ log q(z|x), no gradient through the decoder). Both are unbiased;
the K-sample estimate averages K independent draws, so its variance is exactly one draw's over K.
That one draw's variance is measured from the whole pool of `repeats × max(K)` draws per input
(unbiased, and its standard error from the same draws). Measuring each K from the spread of
disjoint groups of K instead left 10 groups at K = 1,000: unbiased in expectation, but with the
score function's heavy tails a typical value was 0.4 to 0.6 times the true one. The two estimators read the same draws (common random numbers:
the comparison is of the estimators, not of luck, and one pass through the decoder and back
serves both). Draws go through the decoder in batches of bounded size; what is kept per draw is
its two gradients of 2D numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vae_core.errors import VaeStudioError
from vae_core.models import LatentModel

SAMPLE_COUNTS = (1, 10, 100, 1000)
# Draws per input: this many times the largest K (10,000 at the default Ks).
REPEATS = 10
ESTIMATORS = ("reparameterization", "score_function")
# Draws per input at most (repeats x the largest K): the kept gradients, 4D float64 numbers a
# draw, stay within tens of megabytes for a few latent dimensions. 10,000 draws (the default)
# take about half a second for one MNIST-sized input through a 784-400-2 MLP on two CPU cores.
MAX_DRAWS = 100_000
# Decoder outputs (draws x inputs x pixels) held at once, whatever the pool: memory stays bounded.
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class EstimatorFigures:
    """One estimator's figures. Gradient vectors are (2D,): ∂ELBO/∂μ_d, then ∂ELBO/∂log σ²_d;
    for several inputs, the mean over them of each input's figure."""

    sample_counts: tuple[int, ...]
    variance: tuple[float, ...]  # trace of the K-sample average's covariance, at each K
    variance_error: tuple[float, ...]  # its standard error
    mean: np.ndarray  # the gradient, averaged over every draw of the pool
    mean_error: np.ndarray  # its standard error, per component

    @property
    def signal_to_noise(self) -> tuple[float, ...]:
        """|E gradient| / √(trace of the K-sample covariance), at each K: above 1, a K-sample
        estimate points the right way more often than not."""
        norm = float(np.linalg.norm(self.mean))
        return tuple(
            norm / math.sqrt(variance) if variance > 0 else math.inf for variance in self.variance
        )


@dataclass(frozen=True)
class GradientVarianceReport:
    reparameterization: EstimatorFigures
    score_function: EstimatorFigures
    latent_dim: int
    inputs: int  # the figures are means over this many inputs
    draws: int  # per input and estimator

    @property
    def sample_counts(self) -> tuple[int, ...]:
        return self.reparameterization.sample_counts

    @property
    def variance_ratio(self) -> tuple[float, ...]:
        """Score-function variance over reparameterized variance, at each K."""
        return tuple(
            score / reparameterized if reparameterized > 0 else math.inf
            for score, reparameterized in zip(
                self.score_function.variance, self.reparameterization.variance
            )
        )

    def variances(self, errors: bool = False) -> dict[str, dict[int, float]]:
        """{"reparameterization": {K: variance}, "score_function": {K: variance}}; with `errors`,
        the variances' standard errors in the same layout."""
        return {
            name: dict(
                zip(figures.sample_counts, figures.variance_error if errors else figures.variance)
            )
            for name, figures in zip(ESTIMATORS, (self.reparameterization, self.score_function))
        }


def gradient_estimates_apply(model: LatentModel) -> str | None:
    """None when the study applies to `model`; otherwise why not, in a few words."""
    if not model.samples_posterior:
        return f"'{model.config.family}' has no Gaussian q(z|x) to differentiate"
    if model.capabilities.latent_layers != 1:
        return f"'{model.config.family}' has {model.capabilities.latent_layers} latent layers; the study takes one"
    return None


def check_gradient_counts(sample_counts: tuple[int, ...], repeats: int = REPEATS) -> None:
    """One line of VaeStudioError for sample counts or repeats the study cannot take."""
    if not sample_counts or min(sample_counts) < 1:
        raise VaeStudioError(f"gradient sample counts must be 1 or more, got {sample_counts}")
    if repeats < 2:
        raise VaeStudioError(f"a variance needs 2 or more repeats, got {repeats}")
    if repeats * max(sample_counts) > MAX_DRAWS:
        raise VaeStudioError(
            f"{repeats} repeats of K = {max(sample_counts):,} gradient samples: the study takes"
            f" {MAX_DRAWS:,} draws per input at most"
        )


def gradient_variance(
    model: LatentModel,
    x: torch.Tensor,
    y=None,
    sample_counts: tuple[int, ...] = SAMPLE_COUNTS,
    repeats: int = REPEATS,
    seed: int = 0,
) -> dict[str, dict[int, float]]:
    """Each estimator's variance (trace) by K: {"reparameterization": {K: v}, "score_function": {K: v}}."""
    return gradient_variance_study(model, x, y, sample_counts, repeats, seed).variances()


def gradient_variance_study(
    model: LatentModel,
    x: torch.Tensor,
    y=None,
    sample_counts: tuple[int, ...] = SAMPLE_COUNTS,
    repeats: int = REPEATS,
    seed: int = 0,
) -> GradientVarianceReport:
    """Both estimators for one image x (C, H, W), or a batch (B, C, H, W) whose figures are the
    means over its inputs; y is the label (an int, or (B,)) where the model is conditional."""
    reason = gradient_estimates_apply(model)
    if reason is not None:
        raise VaeStudioError(f"the gradient estimators need one Gaussian latent layer: {reason}")
    check_gradient_counts(tuple(sample_counts), repeats)
    batch = x if x.dim() == 4 else x[None]
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    observed = model.observe(batch.to(device), generator)
    label = None if y is None else torch.as_tensor(y, device=device).reshape(-1).expand(len(batch))
    draws = repeats * max(sample_counts)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            posterior = model.encode(observed, label)
        mean, std = posterior.mean.detach(), posterior.std.detach()
        chunk = max(1, _CHUNK_ELEMENTS // (len(batch) * observed[0].numel()))
        pools = ([], [])
        for start in range(0, draws, chunk):
            shape = (min(chunk, draws - start), *mean.shape)
            noise = torch.randn(shape, generator=generator, device=device, dtype=mean.dtype)
            for pool, gradients in zip(
                pools, _draw_gradients(model, observed, label, mean, std, noise)
            ):
                pool.append(gradients.double().cpu())
    finally:
        model.train(was_training)
    reparameterized, score = (_figures(torch.cat(pool), tuple(sample_counts)) for pool in pools)
    return GradientVarianceReport(reparameterized, score, mean.shape[-1], len(batch), draws)


def _draw_gradients(model, observed, label, mean, std, noise) -> tuple[torch.Tensor, torch.Tensor]:
    """Both estimators' gradients (n, B, 2D) from the draws z = μ + σ ε of `noise` (n, B, D): one
    pass through the decoder and back gives log p(x, z) and its slope ∇_z log p(x, z)."""
    z = (mean + std * noise).requires_grad_(True)
    with torch.enable_grad():
        joint = model.joint_log_prob(observed, z, label)  # (n, B)
        (slope,) = torch.autograd.grad(joint.sum(), z)
    joint = joint.detach()[..., None]
    # The entropy's exact gradient, ½ for each log σ²_d, is added to both alike.
    reparameterized = torch.cat([slope, slope * noise * std / 2 + 0.5], -1)
    score = torch.cat([joint * noise / std, joint * (noise.square() - 1) / 2 + 0.5], -1)
    return reparameterized, score


def _figures(draws: torch.Tensor, sample_counts: tuple[int, ...]) -> EstimatorFigures:
    """The statistics of per-draw gradients (N, B, 2D), float64: the K-sample variance as one
    draw's (from all N) over K, with standard errors from the spread of the squared deviations."""
    count, inputs = draws.shape[:2]
    spread = (draws - draws.mean(0)).square().sum(-1)  # (N, B)
    one_draw = float(spread.sum(0).div(count - 1).mean())
    one_draw_error = float(spread.var(0).div(count).sum().sqrt() / inputs)
    mean_error = draws.var(0).div(count).sum(0).sqrt() / inputs
    return EstimatorFigures(
        tuple(sample_counts),
        tuple(one_draw / samples for samples in sample_counts),
        tuple(one_draw_error / samples for samples in sample_counts),
        draws.mean((0, 1)).numpy(),
        mean_error.numpy(),
    )
