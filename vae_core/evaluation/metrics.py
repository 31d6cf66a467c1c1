"""Metrics of learned codes: the mutual information gap against ground-truth factors, and the
usage of a VQ-VAE codebook (computed by the quantizer, whose training reports it too)."""

from __future__ import annotations

import numpy as np
import torch

from vae_core.errors import VaeStudioError
from vae_core.models.quantizer import codebook_usage, perplexity

__all__ = ["codebook_usage", "mutual_information_gap", "mutual_information_matrix", "perplexity"]

# Equal-width bins per code dimension for discrete mutual information (as in Chen et al., 2018).
MIG_BINS = 20


def _discretise(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin numbers per column: the distinct values where there are few, else equal-width bins."""
    columns = []
    for column in values.T:
        distinct, inverse = np.unique(column, return_inverse=True)
        if len(distinct) <= bins:
            columns.append(inverse)
        else:
            edges = np.linspace(column.min(), column.max(), bins + 1)[1:-1]
            columns.append(np.digitize(column, edges))
    return np.stack(columns, axis=1)


def _entropy(labels: np.ndarray) -> float:
    probabilities = np.bincount(labels) / len(labels)
    probabilities = probabilities[probabilities > 0]
    return float(-(probabilities * np.log(probabilities)).sum())


def _mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    joint = a * (b.max() + 1) + b
    return _entropy(a) + _entropy(b) - _entropy(joint)


def mutual_information_matrix(codes, factors, bins: int = MIG_BINS) -> np.ndarray:
    """I(code_j; factor_k) in nats, (D, F), from binned codes (N, D) and factors (N, F)."""
    codes, factors = _as_arrays(codes, factors)
    binned_codes, binned_factors = _discretise(codes, bins), _discretise(factors, bins)
    return np.array(
        [
            [
                _mutual_information(binned_codes[:, j], binned_factors[:, k])
                for k in range(factors.shape[1])
            ]
            for j in range(codes.shape[1])
        ]
    )


def mutual_information_gap(codes, factors, bins: int = MIG_BINS) -> float:
    """MIG (Chen et al., 2018): for each factor, the gap between the two code dimensions that know
    most about it, over the factor's entropy; averaged over factors that vary. 1 when each factor
    lives in one dimension alone, 0 when no dimension stands out."""
    codes, factors = _as_arrays(codes, factors)
    information = mutual_information_matrix(codes, factors, bins)
    binned_factors = _discretise(factors, bins)
    gaps = []
    for k in range(factors.shape[1]):
        entropy = _entropy(binned_factors[:, k])
        if entropy == 0:
            continue
        # One code dimension has no runner-up: the gap is all it knows.
        ranked = np.sort(np.append(information[:, k], 0.0))[::-1]
        gaps.append((ranked[0] - ranked[1]) / entropy)
    if not gaps:
        raise VaeStudioError("MIG needs at least one factor that varies across the examples")
    return float(np.mean(gaps))


def _as_arrays(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    codes = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    factors = (
        factors.detach().cpu().numpy() if isinstance(factors, torch.Tensor) else np.asarray(factors)
    )
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise VaeStudioError(
            f"MIG needs codes (N, D) and factors (N, F) for the same examples, got {codes.shape} and {factors.shape}"
        )
    return codes.astype(np.float64), factors.astype(np.float64)
