"""The rate-distortion plane (Alemi et al. 2018, "Fixing a broken ELBO") from a run's metrics:
rate R = KL(q(z|x) || p(z)), the nats the codes carry about x, against distortion
D = E_q[-log p(x|z)], the reconstruction error. The negative ELBO at β = 1 is R + D; a β-VAE
trades one for the other, each β settling at its own point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vae_core.errors import VaeStudioError
from vae_core.training.snapshot import METRICS_COLUMNS

# Each point averages the last quarter of its segment's rows: the rows just after a β change
# are a transient on the way to the new β's point, not the point itself.
TAIL_SHARE = 0.25

_STEP, _BETA, _RATE, _DISTORTION = (METRICS_COLUMNS.index(name) for name in ("step", "beta", "kl", "recon"))


@dataclass(frozen=True)
class RatePoint:
    """One β segment of a run: consecutive rows with the same β."""

    beta: float
    rate: float  # KL, nats per example, over the segment's tail
    distortion: float  # reconstruction -log p(x|z), nats per example, over the same rows
    first_step: int  # the segment's steps
    last_step: int
    rows_averaged: int


def beta_segments(rows: np.ndarray) -> list[slice]:
    """The runs of consecutive rows with the same β, in step order."""
    beta = np.asarray(rows)[:, _BETA]
    starts = [0, *(np.flatnonzero(beta[1:] != beta[:-1]) + 1).tolist()]
    return [slice(start, stop) for start, stop in zip(starts, [*starts[1:], len(beta)])]


def rate_distortion_points(rows, tail_share: float = TAIL_SHARE) -> list[RatePoint]:
    """One point per β segment of `rows` (METRICS_COLUMNS values, (R, C)): rate and distortion
    averaged over the segment's last `tail_share` of rows (at least one), rows whose figures are
    not finite left out; a segment with none left gives no point."""
    if not 0 < tail_share <= 1:
        raise VaeStudioError(f"the share of a segment averaged must be in (0, 1], got {tail_share}")
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != len(METRICS_COLUMNS):
        raise VaeStudioError(f"metrics rows need {len(METRICS_COLUMNS)} columns, got shape {rows.shape}")
    points = []
    for segment in beta_segments(rows) if len(rows) else ():
        block = rows[segment]
        tail = block[len(block) - max(1, math.ceil(tail_share * len(block))) :]
        tail = tail[np.isfinite(tail[:, _RATE]) & np.isfinite(tail[:, _DISTORTION])]
        if len(tail) == 0:
            continue
        points.append(
            RatePoint(
                beta=float(block[0, _BETA]),
                rate=float(tail[:, _RATE].mean()),
                distortion=float(tail[:, _DISTORTION].mean()),
                first_step=int(block[0, _STEP]),
                last_step=int(block[-1, _STEP]),
                rows_averaged=len(tail),
            )
        )
    return points
