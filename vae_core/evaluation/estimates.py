"""Evaluation: the ELBO and its terms, the importance-sampled log-likelihood (and how it grows
with the number of samples), active units, and the figures that apply to some models or data
only (exact log-likelihood, per-class ELBO of a conditional model, codebook perplexity and usage,
MIG against ground-truth factors)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from vae_core.data import ImageDataset
from vae_core.distributed import current_team
from vae_core.evaluation.metrics import mutual_information_gap
from vae_core.evaluation.observation import observed_examples
from vae_core.models import LatentModel
from vae_core.seeds import derived_seed

# Values of log-weights held at once while estimating log p(x): bounds memory for any K.
_IS_CHUNK_VALUES = 1 << 22
# A posterior-mean variance across the data above this marks a latent dimension as in use.
ACTIVE_UNIT_THRESHOLD = 0.01


def _sum_dtype(device: torch.device) -> torch.dtype:
    """float64 for sums over a data set, where the device has it (MPS has not)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _my_batches(
    data: ImageDataset, batch_size: int, limit: int | None, seed: int, device, generator
):
    """(weight, indices, images, labels) of this process's batches of the first `limit` examples,
    the generator seeded anew for each batch from its number: a batch draws the same numbers in
    whichever process computes it, so that a sharded evaluation equals one process's. A process
    that owns no batch computes batch 0 with weight 0, so that it joins every collective."""
    count = len(data) if limit is None else min(limit, len(data))
    starts = range(0, count, batch_size)
    team = current_team()
    mine = [(1.0, number) for number in range(len(starts)) if team.owns(number)] or [(0.0, 0)]
    for weight, number in mine:
        generator.manual_seed(derived_seed(seed, number))
        start = starts[number] if len(starts) else 0
        indices = torch.arange(start, min(start + batch_size, count), device=data.images.device)
        images, labels = data.batch(indices)
        yield weight, indices, images.to(device), labels.to(device)


class EvaluationStopped(Exception):
    """`should_stop()` said so: the evaluation ended early, without results."""


def _stop_if_asked(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise EvaluationStopped


def _log_weight_chunks(
    model: LatentModel, x: torch.Tensor, y, samples: int, generator, should_stop
) -> Iterator[torch.Tensor]:
    """log p(x, z_k) - log q(z_k|x) for `samples` draws z_k ~ q(z|x) in all, as (k, B) chunks: the
    decoded images of a chunk are what takes memory, so a chunk holds a bounded number of values."""
    chunk = max(1, _IS_CHUNK_VALUES // max(1, len(x) * x[0].numel()))
    for start in range(0, samples, chunk):
        _stop_if_asked(should_stop)
        yield model.log_importance_weights(
            x, y, samples=min(chunk, samples - start), generator=generator
        )


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
        cumulative = torch.logaddexp(
            total, torch.logcumsumexp(log_weights.double(), dim=0)
        )  # (chunk, B)
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


# Examples x importance samples between two progress reports: one every few seconds on a CPU even
# at K = 5,000, while each chunk of samples still makes large matrix products.
_IS_ROWS_PER_REPORT = 1 << 17


@torch.no_grad()
def total_elbo(
    model: LatentModel, data: ImageDataset, seed: int = 0, batch_size: int = 500
) -> float:
    """The sum over `data` of each example's ELBO (log p convention: negative), in eval mode,
    shared out between the processes of a torchrun team. Binary data is binarised the same way at
    every call, as `evaluate_model` binarises it, so that successive values differ by the model
    alone."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device)
    total = torch.zeros(1, dtype=_sum_dtype(device), device=device)
    for weight, indices, images, labels in _my_batches(
        data, batch_size, None, seed, device, generator
    ):
        observed = observed_examples(model, images, indices, seed)
        terms = model.elbo_terms(observed, labels, generator=generator)
        total -= weight * (terms["recon"] + terms["kl"]).to(total.dtype).sum()
    model.train(was_training)
    return float(current_team().sum_(total))


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
    """Test-set figures in nats per example, and the standard errors of their means over examples.

    Binary data is binarised once, each example from `seed` and its index
    (evaluation/observation.py, as `analyze` does), the same way whatever K or batch is, so that
    estimates with different K (or of different models) speak of the same images. With `iw_samples` K > 1, `log_likelihood_is` is the IS estimate with K samples per example,
    and `log_likelihood_is_by_samples` the estimates from the first k of the same samples, for k
    in 1, 2, 5, 10, ... K: in expectation they grow with k towards log p(x) (Burda et al. 2015),
    from the ELBO at k = 1. `progress(done, total)` hears the examples done after each batch;
    `should_stop()`, asked between batches and sample chunks, ends it with EvaluationStopped.
    Memory stays bounded for any K and data size (chunks of samples within slices of examples).

    Under torchrun each process evaluates its share of the batches; sums are added across the
    processes, and the figures that need every example (active units, MIG, per-class ELBO)
    gather them: every process returns the figures of the whole set."""
    started = time.perf_counter()
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator(device)
    total = len(data) if limit is None else min(limit, len(data))
    sample_counts = sample_counts_up_to(iw_samples)
    totals = _Totals.zeros(2 + len(sample_counts), model.config.latent_dim, device)
    slice_size = max(1, _IS_ROWS_PER_REPORT // iw_samples)
    for weight, indices, images, labels in _my_batches(
        data, batch_size, limit, seed, device, generator
    ):
        _stop_if_asked(should_stop)
        observed = observed_examples(model, images, indices, seed)
        terms = model.elbo_terms(observed, labels, generator=generator)
        totals.add_terms(model, weight, observed, labels, terms)
        for start in range(0, len(observed), slice_size) if iw_samples > 1 else ():
            part = slice(start, start + slice_size)
            estimates = importance_sampled_log_likelihoods(
                model, observed[part], labels[part], sample_counts, generator, should_stop
            )  # (len(sample_counts), slice)
            totals.sums[2:] += weight * estimates.sum(1)
            if weight:
                totals.log_likelihoods.append(estimates[-1])
            if progress is not None and start + slice_size < len(observed):
                progress(totals.count + start + slice_size, total)
        if weight:
            totals.add_examples(model, observed, labels, indices, terms)
        if progress is not None:
            progress(totals.count, total)
    model.train(was_training)
    results = _figures(model, data, totals, sample_counts, device)
    results["seconds"] = time.perf_counter() - started
    results["threads"] = torch.get_num_threads()
    return results


@dataclass
class _Totals:
    """What evaluation adds up over this process's examples: `sums` holds recon, kl, then the IS
    estimates for each sample count; `layers`, per layer, (2, D) sums of posterior means and of
    their squares; the lists, per-example values gathered from every process at the end."""

    sums: torch.Tensor
    kl_per_dim: torch.Tensor
    family: dict[str, torch.Tensor] = field(default_factory=dict)
    layers: dict[str, torch.Tensor] = field(default_factory=dict)
    codes: list[torch.Tensor] = field(default_factory=list)
    elbos: list[torch.Tensor] = field(default_factory=list)
    labels: list[torch.Tensor] = field(default_factory=list)
    indices: list[torch.Tensor] = field(default_factory=list)
    log_likelihoods: list[torch.Tensor] = field(default_factory=list)
    count: int = 0

    @classmethod
    def zeros(cls, sums: int, latent_dim: int, device: torch.device) -> _Totals:
        dtype = _sum_dtype(device)
        return cls(
            torch.zeros(sums, dtype=dtype, device=device),
            torch.zeros(latent_dim, dtype=dtype, device=device),
        )

    def add_terms(self, model: LatentModel, weight: float, observed, labels, terms) -> None:
        """A batch's ELBO terms, the family's own sums and each layer's code moments."""
        dtype = self.sums.dtype
        self.sums[0] += weight * terms["recon"].to(dtype).sum()
        self.sums[1] += weight * terms["kl"].to(dtype).sum()
        self.kl_per_dim += weight * terms["kl_per_dim"].to(dtype).sum(0)
        for name, value in model.evaluation_sums(observed, labels).items():
            self.family[name] = self.family.get(name, 0) + weight * value
        for name, means in model.layer_codes(observed, labels).items():
            moments = torch.stack([means.sum(0), means.square().sum(0)]).to(dtype)
            self.layers[name] = self.layers.get(name, 0) + weight * moments

    def add_examples(self, model: LatentModel, observed, labels, indices, terms) -> None:
        """A batch's examples that count here (a process's own share, not its padding)."""
        self.count += len(observed)
        self.codes.append(model.embed(observed, labels))
        self.elbos.append(-(terms["recon"] + terms["kl"]))
        self.labels.append(labels)
        self.indices.append(indices)


def _figures(
    model: LatentModel,
    data: ImageDataset,
    totals: _Totals,
    sample_counts: list[int],
    device: torch.device,
) -> dict:
    """The figures of the whole set, from every process's totals."""
    team = current_team()
    sums, kl_per_dim = team.sum_(totals.sums), team.sum_(totals.kl_per_dim)
    family = {
        name: team.sum_(torch.as_tensor(value, device=device).clone())
        for name, value in totals.family.items()
    }
    layers = {name: team.sum_(value) for name, value in totals.layers.items()}
    codes = team.gather(_joined(totals.codes, (0, model.config.latent_dim), device))
    all_elbos = team.gather(_joined(totals.elbos, (0,), device))
    count = len(codes)
    recon, kl = (sums[:2] / count).tolist()
    activity = codes.var(dim=0) if len(codes) > 1 else torch.zeros(codes.shape[1])
    results = {
        "examples": count,
        "elbo": -(recon + kl),
        "elbo_se": _standard_error(all_elbos),
        "recon": recon,
        "kl": kl,
        "kl_per_dim": (kl_per_dim / count).tolist(),
        "active_units": int((activity > ACTIVE_UNIT_THRESHOLD).sum()),
    }
    if layers:
        results["active_units_per_layer"] = {
            name: _active_units(moments, count) for name, moments in layers.items()
        }
    if sample_counts[-1] > 1:  # K, the samples per example
        by_samples = (sums[2:] / count).tolist()
        results["log_likelihood_is"] = by_samples[-1]
        results["iw_samples"] = sample_counts[-1]
        results["log_likelihood_is_by_samples"] = dict(zip(sample_counts, by_samples))
        results["log_likelihood_is_se"] = _standard_error(
            team.gather(_joined(totals.log_likelihoods, (0,), device))
        )
    results.update(model.evaluation_figures(family, count))
    if model.conditional:
        all_labels = team.gather(_joined(totals.labels, (0,), device, torch.int64))
        results["elbo_per_class"] = _per_class_means(all_elbos, all_labels, data.class_names)
    if data.factors is not None:
        seen = team.gather(_joined(totals.indices, (0,), device, torch.int64))
        results["mig"] = mutual_information_gap(codes, data.factors[seen.to(data.factors.device)])
    return results


def _standard_error(values: torch.Tensor) -> float:
    """The standard error of the mean of per-example values: their sample standard deviation over
    the square root of their count (0 for a single value)."""
    if len(values) < 2:
        return 0.0
    return float(values.double().std() / math.sqrt(len(values)))


def _joined(pieces: list[torch.Tensor], empty_shape, device, dtype=torch.float32) -> torch.Tensor:
    """The pieces end to end; an empty tensor of `empty_shape` where there are none."""
    return torch.cat(pieces) if pieces else torch.zeros(empty_shape, dtype=dtype, device=device)


def _active_units(sums: torch.Tensor, count: int) -> int:
    """Dimensions whose posterior mean varies across the data (the sample variance, as `var`),
    from the sums of the means and of their squares (2, D)."""
    if count < 2:
        return 0
    variance = (sums[1] - sums[0].square() / count) / (count - 1)
    return int((variance > ACTIVE_UNIT_THRESHOLD).sum())


def _per_class_means(values: torch.Tensor, labels: torch.Tensor, class_names) -> dict[str, float]:
    """The mean of values per class present, keyed by class name."""
    sums = torch.zeros(len(class_names), dtype=torch.float64, device=values.device).index_add_(
        0, labels, values.double()
    )
    counts = torch.bincount(labels, minlength=len(class_names))
    return {name: float(sums[i] / counts[i]) for i, name in enumerate(class_names) if counts[i] > 0}
