"""The rate-distortion plane (Alemi et al. 2018, "Fixing a broken ELBO") from a run's metrics:
rate R = KL(q(z|x) || p(z)), the nats the codes carry about x, against distortion
D = E_q[-log p(x|z)], the reconstruction error. The negative ELBO at β = 1 is R + D; a β-VAE
trades one for the other, each β settling at its own point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS

# Each point averages the last quarter of its segment's rows: the rows just after a β change
# are a transient on the way to the new β's point, not the point itself.
TAIL_SHARE = 0.25

_STEP, _BETA, _RATE, _DISTORTION = (
    METRICS_COLUMNS.index(name) for name in ("step", "beta", "kl", "recon")
)


@dataclass(frozen=True)
class RatePoint:
    """One β segment of a run: consecutive rows with the same β."""

    beta: float
    rate: float  # KL, nats per example, over the segment's tail
    distortion: float  # reconstruction -log p(x|z), nats per example, over the same rows
    first_step: int  # the segment's steps
    last_step: int
    rows_averaged: int


def beta_segments(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the runs of consecutive rows with the same β start and stop (row indices), in step order."""
    beta = np.asarray(rows)[:, _BETA]
    starts = np.concatenate([[0], np.flatnonzero(beta[1:] != beta[:-1]) + 1])
    return starts, np.append(starts[1:], len(beta))


def rate_distortion_points(rows, tail_share: float = TAIL_SHARE) -> list[RatePoint]:
    """One point per β segment of `rows` (METRICS_COLUMNS values, (R, C)): rate and distortion
    averaged over the segment's last `tail_share` of rows (at least one), rows whose figures are
    not finite left out; a segment with none left gives no point.

    Vectorised over segments: a β schedule makes every row a segment of its own."""
    if not 0 < tail_share <= 1:
        raise VaeStudioError(f"the share of a segment averaged must be in (0, 1], got {tail_share}")
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != len(METRICS_COLUMNS):
        raise VaeStudioError(
            f"metrics rows need {len(METRICS_COLUMNS)} columns, got shape {rows.shape}"
        )
    if len(rows) == 0:
        return []
    starts, stops = beta_segments(rows)
    tail_starts = stops - np.maximum(1, np.ceil(tail_share * (stops - starts)).astype(int))
    finite = np.isfinite(rows[:, _RATE]) & np.isfinite(rows[:, _DISTORTION])
    # Sums over [tail_start, stop) as differences of running totals (a leading zero for row 0).
    totals = np.zeros((len(rows) + 1, 3))
    totals[1:] = np.cumsum(
        np.stack(
            [
                finite,
                np.where(finite, rows[:, _RATE], 0),
                np.where(finite, rows[:, _DISTORTION], 0),
            ],
            1,
        ),
        0,
    )
    count, rate, distortion = (totals[stops] - totals[tail_starts]).T
    return [
        RatePoint(
            float(rows[start, _BETA]),
            r / n,
            d / n,
            int(rows[start, _STEP]),
            int(rows[stop - 1, _STEP]),
            int(n),
        )
        for start, stop, n, r, d in zip(
            starts.tolist(), stops.tolist(), count.tolist(), rate.tolist(), distortion.tolist()
        )
        if n > 0
    ]
