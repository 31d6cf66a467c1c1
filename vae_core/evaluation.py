"""Evaluation: the ELBO and its terms, the importance-sampled log-likelihood, active units, and
the figures that apply to some models or data only (exact log-likelihood, per-class ELBO of a
conditional model, codebook perplexity and usage, MIG against ground-truth factors)."""

from __future__ import annotations

import math

import torch

from vae_core.data import ImageDataset
from vae_core.metrics import mutual_information_gap
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


@torch.no_grad()
def importance_sampled_log_likelihood(
    model: LatentModel, x: torch.Tensor, y=None, samples: int = 100, generator=None
) -> torch.Tensor:
    """log p(x) ≈ log (1/K) Σ_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x); per example (B,).

    The K samples are drawn in chunks and combined with a running log-sum-exp, so memory stays
    bounded whatever K is.
    """
    pixels = x[0].numel()
    chunk = max(1, _IS_CHUNK_VALUES // max(1, len(x) * pixels))
    total = torch.full((len(x),), -math.inf, device=x.device)
    for start in range(0, samples, chunk):
        count = min(chunk, samples - start)
        log_weights = model.log_importance_weights(x, y, samples=count, generator=generator)
        total = torch.logaddexp(total, torch.logsumexp(log_weights, dim=0))
    return total - math.log(samples)


@torch.no_grad()
def evaluate_model(
    model: LatentModel,
    data: ImageDataset,
    iw_samples: int = 1,
    limit: int | None = None,
    batch_size: int = 500,
    seed: int = 0,
) -> dict:
    """Test-set figures in nats per example. Binary data is binarised once, from `seed`."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    count = 0
    recon_sum = kl_sum = log_likelihood_sum = 0.0
    kl_per_dim_sum = None
    family_sums: dict[str, torch.Tensor] = {}
    codes, elbos, labels_seen = [], [], []
    for images, labels in _batches(data, batch_size, limit, device):
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
            log_likelihood_sum += importance_sampled_log_likelihood(
                model, observed, labels, iw_samples, generator
            ).sum().item()
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
        results["log_likelihood_is"] = log_likelihood_sum / count
        results["iw_samples"] = iw_samples
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
