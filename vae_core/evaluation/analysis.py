"""The theory made visible, for one chosen input: the amortization and approximation gaps, and
importance sampling with two proposals. Plain dataclasses out, for the window or a script."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vae_core.errors import VaeStudioError
from vae_core.evaluation.single_input import exact_log_likelihood, log_mean_exp, single_input
from vae_core.models import LatentModel
from vae_core.models.distributions import DiagonalGaussian
from vae_core.optimizer import make_adam

# The most samples the importance-sampling study draws for one K: each is a decode of the image,
# made once per repeat and proposal, so a million is minutes already. Memory is bounded at any K:
# draws are made _STUDY_CHUNK at a time.
MAX_STUDY_SAMPLES = 1_000_000
_STUDY_CHUNK = 10_000


@dataclass(frozen=True)
class AmortizationReport:
    """ELBOs of one input with the encoder's q(z|x) and with a q optimised for it alone.

    log p(x) - amortized ELBO = approximation gap (the best diagonal Gaussian is still not the
    posterior) + amortization gap (the encoder does not find that best one).
    """

    amortized_elbo: float
    optimized_elbo: float
    log_likelihood: float  # importance-sampled, the optimised q as proposal
    iw_samples: int
    exact_log_likelihood: float | None  # where the model has it in closed form
    elbo_trace: tuple[float, ...]  # the optimised ELBO estimate at each step

    @property
    def amortization_gap(self) -> float:
        return self.optimized_elbo - self.amortized_elbo

    @property
    def approximation_gap(self) -> float:
        reference = (
            self.log_likelihood if self.exact_log_likelihood is None else self.exact_log_likelihood
        )
        return reference - self.optimized_elbo


@dataclass(frozen=True)
class ImportanceEstimate:
    proposal: str  # "prior" (z ~ p(z)) or "posterior" (z ~ q(z|x))
    samples: int  # K
    log_likelihood: float  # mean over repeats of log (1/K) Σ_k p(x, z_k) / r(z_k)
    spread: float  # standard deviation of the estimate over repeats
    effective_sample_size: float  # mean over repeats of (Σ w)² / Σ w²


@dataclass(frozen=True)
class ImportanceSamplingReport:
    estimates: tuple[ImportanceEstimate, ...]
    exact_log_likelihood: float | None


def _log_weights(
    model, observed, label, posterior: DiagonalGaussian, samples: int, generator
) -> torch.Tensor:
    z = posterior.rsample(generator, samples)  # (K, 1, D)
    return (model.joint_log_prob(observed, z, label) - posterior.log_prob(z))[:, 0]  # (K,)


def _elbo(model, observed, label, posterior, samples, seed) -> float:
    # A generator of its own: both ELBOs see the same noise, so their difference is not noise.
    generator = torch.Generator(posterior.mean.device).manual_seed(seed)
    return float(_log_weights(model, observed, label, posterior, samples, generator).mean())


def amortization_gap(
    model: LatentModel,
    x: torch.Tensor,
    y: int | None = None,
    steps: int = 300,
    lr: float = 0.05,
    samples_per_step: int = 16,
    eval_samples: int = 2000,
    iw_samples: int = 2000,
    seed: int = 0,
) -> AmortizationReport:
    """Optimise q(z|x) = N(μ, diag σ²) for image x by Adam on the reparameterised ELBO, starting
    from the encoder's output; the model's weights stay as they are."""
    generator, observed, label = single_input(model, x, y, seed)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        amortized = model.encode(observed, label)
    mean = amortized.mean.detach().clone().requires_grad_(True)
    log_var = amortized.log_var.detach().clone().requires_grad_(True)
    optimizer = make_adam([mean, log_var], lr=lr)
    trace = []
    for _ in range(steps):
        elbo = _log_weights(
            model, observed, label, DiagonalGaussian(mean, log_var), samples_per_step, generator
        ).mean()
        # Gradients for μ and log σ² only: the model's own gradients are left untouched.
        mean.grad, log_var.grad = torch.autograd.grad(-elbo, [mean, log_var])
        optimizer.step()
        trace.append(float(elbo.detach()))
    with torch.no_grad():
        optimized = DiagonalGaussian(mean.detach(), log_var.detach())
        report = AmortizationReport(
            amortized_elbo=_elbo(model, observed, label, amortized, eval_samples, seed + 1),
            optimized_elbo=_elbo(model, observed, label, optimized, eval_samples, seed + 1),
            log_likelihood=log_mean_exp(
                _log_weights(model, observed, label, optimized, iw_samples, generator)
            ),
            iw_samples=iw_samples,
            exact_log_likelihood=exact_log_likelihood(model, observed, label),
            elbo_trace=tuple(trace),
        )
    model.train(was_training)
    return report


def check_sample_counts(sample_counts: tuple[int, ...]) -> None:
    """One line of VaeStudioError for a K the study would not finish or cannot take."""
    for count in sample_counts:
        if not 1 <= count <= MAX_STUDY_SAMPLES:
            raise VaeStudioError(
                f"{count:,} importance samples: the study takes 1 to {MAX_STUDY_SAMPLES:,} (each one decodes the image)"
            )


def _streamed_estimate(draw, count: int) -> tuple[float, float]:
    """log (1/K) Σ w_k and the effective sample size (Σ w)² / Σ w² of `count` log-weights drawn
    by `draw(n)` a chunk at a time, joined by running log-sum-exps."""
    log_sum = log_sum_of_squares = None
    for start in range(0, count, _STUDY_CHUNK):
        log_weights = draw(min(_STUDY_CHUNK, count - start)).double()
        chunk_sum, chunk_squares = (
            torch.logsumexp(log_weights, 0),
            torch.logsumexp(2 * log_weights, 0),
        )
        if log_sum is None:
            log_sum, log_sum_of_squares = chunk_sum, chunk_squares
        else:
            log_sum = torch.logaddexp(log_sum, chunk_sum)
            log_sum_of_squares = torch.logaddexp(log_sum_of_squares, chunk_squares)
    return float(log_sum) - math.log(count), float(torch.exp(2 * log_sum - log_sum_of_squares))


@torch.no_grad()
def importance_sampling_study(
    model: LatentModel,
    x: torch.Tensor,
    y: int | None = None,
    sample_counts: tuple[int, ...] = (1, 10, 100, 1000),
    repeats: int = 10,
    seed: int = 0,
) -> ImportanceSamplingReport:
    """log p(x) estimated by importance sampling from the prior and from q(z|x), at each K:
    the closer the proposal to the posterior, the smaller the spread and the larger the ESS."""
    check_sample_counts(sample_counts)
    generator, observed, label = single_input(model, x, y, seed)
    was_training = model.training
    model.eval()
    posterior = model.encode(observed, label)

    def prior_log_weights(count):
        z = model.prior.sample(count, generator=generator, device=observed.device)[
            :, None, :
        ]  # (K, 1, D)
        return model.likelihood.log_prob(observed, model.decode(z, label))[:, 0]

    def posterior_log_weights(count):
        return _log_weights(model, observed, label, posterior, count, generator)

    estimates = []
    for proposal, draw in (("prior", prior_log_weights), ("posterior", posterior_log_weights)):
        for count in sample_counts:
            values, sizes = [], []
            for _ in range(repeats):
                value, size = _streamed_estimate(draw, count)
                values.append(value)
                sizes.append(size)
            values_tensor = torch.tensor(values, dtype=torch.float64)
            estimates.append(
                ImportanceEstimate(
                    proposal=proposal,
                    samples=count,
                    log_likelihood=float(values_tensor.mean()),
                    spread=float(values_tensor.std()) if repeats > 1 else 0.0,
                    effective_sample_size=sum(sizes) / repeats,
                )
            )
    model.train(was_training)
    return ImportanceSamplingReport(tuple(estimates), exact_log_likelihood(model, observed, label))
