"""Evaluation: the ELBO and its terms, the importance-sampled log-likelihood (and how it grows
with the number of samples), active units, and the figures that apply to some models or data
only (exact log-likelihood, per-class ELBO of a conditional model, codebook perplexity and usage,
MIG against ground-truth factors)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch

from vae_core.data import ImageDataset
from vae_core.evaluation.metrics import mutual_information_gap
from vae_core.models import LatentModel

# Values of log-weights held at once while estimating log p(x): bounds memory for any K.
_IS_CHUNK_VALUES = 1 << 22
# A posterior-mean variance across the data above this marks a latent dimension as in use.
ACTIVE_UNIT_THRESHOLD = 0.01


def _batches(data: ImageDataset, batch_size: int, limit: int | None, device):
    count = len(data) if limit is None else min(limit, len(data))
    for start in range(0, count, batch_size):
        indices = torch.arange(start, min(start + batch_size, count), device=data.images.device)
        images, labels = data.batch(indices)
        yield images.to(device), labels.to(device)


class EvaluationStopped(Exception):
    """`should_stop()` said so: the evaluation ended early, without results."""


def _stop_if_asked(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise EvaluationStopped


def _log_weight_chunks(model: LatentModel, x: torch.Tensor, y, samples: int, generator, should_stop) -> Iterator[torch.Tensor]:
    """log p(x, z_k) - log q(z_k|x) for `samples` draws z_k ~ q(z|x) in all, as (k, B) chunks: the
    decoded images of a chunk are what takes memory, so a chunk holds a bounded number of values."""
    chunk = max(1, _IS_CHUNK_VALUES // max(1, len(x) * x[0].numel()))
    for start in range(0, samples, chunk):
        _stop_if_asked(should_stop)
        yield model.log_importance_weights(x, y, samples=min(chunk, samples - start), generator=generator)


@torch.no_grad()
def importance_sampled_log_likelihoods(
    model: LatentModel,
    x: torch.Tensor,
    y=None,
    sample_counts: Sequence[int] = (100,),
    generator=None,
    should_stop: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """log p(x) ≈ log (1/k) Σ_{i ≤ k} p(x, z_i) / q(z_i|x), z_i ~ q(z|x), from the first k of the
    same draws for each k of the increasing `sample_counts`: (len(sample_counts), B), float64.

    The draws come in chunks joined by a running log-sum-exp, so memory stays bounded whatever k
    is; `should_stop()` is asked before each chunk.
    """
    total = torch.full((len(x),), -math.inf, dtype=torch.float64, device=x.device)
    estimates, drawn = [], 0
    pending = list(sample_counts)
    for log_weights in _log_weight_chunks(model, x, y, pending[-1], generator, should_stop):
        cumulative = torch.logaddexp(total, torch.logcumsumexp(log_weights.double(), dim=0))  # (chunk, B)
        while pending and pending[0] <= drawn + len(log_weights):
            count = pending.pop(0)
            estimates.append(cumulative[count - drawn - 1] - math.log(count))
        total = cumulative[-1]
        drawn += len(log_weights)
    return torch.stack(estimates)


def importance_sampled_log_likelihood(
    model: LatentModel, x: torch.Tensor, y=None, samples: int = 100, generator=None
) -> torch.Tensor:
    """The estimate with `samples` draws alone: (B,)."""
    return importance_sampled_log_likelihoods(model, x, y, (samples,), generator)[0]


def sample_counts_up_to(samples: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... below `samples`, then `samples` itself."""
    counts, decade = [], 1
    while True:
        for step in (1, 2, 5):
            if step * decade >= samples:
                return [*counts, samples]
            counts.append(step * decade)
        decade *= 10


@torch.no_grad()
def total_elbo(model: LatentModel, data: ImageDataset, seed: int = 0, batch_size: int = 500) -> float:
    """The sum over `data` of each example's ELBO (log p convention: negative), in eval mode (a
    sum, so that shards' totals add up; batch totals added in Python's float64, which MPS lacks).
    Binary data is binarised from `seed`, the same way at every call, so that successive values
    differ by the model alone."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    total = 0.0
    for images, labels in _batches(data, batch_size, None, device):
        terms = model.elbo_terms(model.observe(images, generator), labels, generator=generator)
        total -= (terms["recon"] + terms["kl"]).sum().item()
    model.train(was_training)
    return total


@torch.no_grad()
def evaluate_model(
    model: LatentModel,
    data: ImageDataset,
    iw_samples: int = 1,
    limit: int | None = None,
    batch_size: int = 500,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Test-set figures in nats per example. Binary data is binarised once, from `seed`.

    With `iw_samples` K > 1, `log_likelihood_is` is the IS estimate with K samples per example,
    and `log_likelihood_is_by_samples` the estimates from the first k of the same samples, for k
    in 1, 2, 5, 10, ... K: in expectation they grow with k towards log p(x) (Burda et al. 2015),
    from the ELBO at k = 1. `progress(done, total)` hears the examples done after each batch;
    `should_stop()`, asked between batches and sample chunks, ends it with EvaluationStopped."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    total = len(data) if limit is None else min(limit, len(data))
    sample_counts = sample_counts_up_to(iw_samples)
    count = 0
    recon_sum = kl_sum = 0.0
    log_likelihood_sums = torch.zeros(len(sample_counts), dtype=torch.float64, device=device)
    kl_per_dim_sum = None
    family_sums: dict[str, torch.Tensor] = {}
    codes, elbos, labels_seen = [], [], []
    for images, labels in _batches(data, batch_size, limit, device):
        _stop_if_asked(should_stop)
        observed = model.observe(images, generator)
        terms = model.elbo_terms(observed, labels, generator=generator)
        count += len(images)
        recon_sum += terms["recon"].sum().item()
        kl_sum += terms["kl"].sum().item()
        per_dim = terms["kl_per_dim"].sum(0)
        kl_per_dim_sum = per_dim if kl_per_dim_sum is None else kl_per_dim_sum + per_dim
        codes.append(model.embed(observed, labels))
        elbos.append(-(terms["recon"] + terms["kl"]))
        labels_seen.append(labels)
        for name, value in model.evaluation_sums(observed, labels).items():
            family_sums[name] = family_sums[name] + value if name in family_sums else value
        if iw_samples > 1:
            log_likelihood_sums += importance_sampled_log_likelihoods(
                model, observed, labels, sample_counts, generator, should_stop
            ).sum(1)
        if progress is not None:
            progress(count, total)
    model.train(was_training)
    codes = torch.cat(codes)
    activity = codes.var(dim=0) if len(codes) > 1 else torch.zeros(codes.shape[1])
    results = {
        "examples": count,
        "elbo": -(recon_sum + kl_sum) / count,
        "recon": recon_sum / count,
        "kl": kl_sum / count,
        "kl_per_dim": (kl_per_dim_sum / count).tolist(),
        "active_units": int((activity > ACTIVE_UNIT_THRESHOLD).sum()),
    }
    if iw_samples > 1:
        by_samples = (log_likelihood_sums / count).tolist()
        results["log_likelihood_is"] = by_samples[-1]
        results["iw_samples"] = iw_samples
        results["log_likelihood_is_by_samples"] = dict(zip(sample_counts, by_samples))
    results.update(model.evaluation_figures(family_sums, count))
    if model.conditional:
        results["elbo_per_class"] = _per_class_means(torch.cat(elbos), torch.cat(labels_seen), data.class_names)
    if data.factors is not None:
        results["mig"] = mutual_information_gap(codes, data.factors[:count])
    return results


def _per_class_means(values: torch.Tensor, labels: torch.Tensor, class_names) -> dict[str, float]:
    """The mean of values per class present, keyed by class name."""
    sums = torch.zeros(len(class_names), dtype=torch.float64, device=values.device).index_add_(0, labels, values.double())
    counts = torch.bincount(labels, minlength=len(class_names))
    return {name: float(sums[i] / counts[i]) for i, name in enumerate(class_names) if counts[i] > 0}
