"""best.safetensors: the run's checkpoint with the best held-out ELBO so far.

A write costs what a periodic checkpoint costs, and comes only after a held-out evaluation that
improved (every `heldout_every` steps at most); on top of that, writes are at least
MIN_INTERVAL_S apart. An improvement inside that interval keeps its weights (a CPU copy the
snapshot already holds) and is written, without optimizer state, at the next snapshot after the
interval or when the run ends."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from vae_core.checkpoint import load_checkpoint, save_checkpoint, save_trainer
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.run_folder import BEST_NAME
from vae_core.training.trainer import Trainer, TrainingSnapshot

MIN_INTERVAL_S = 30.0
_HELDOUT_COLUMN = METRICS_COLUMNS.index("heldout_elbo")


def best_heldout_elbo(history) -> float:
    """The best held-out ELBO in rows of METRICS_COLUMNS (-inf where none was measured)."""
    column = np.asarray(history, dtype=np.float64).reshape(-1, len(METRICS_COLUMNS))[
        :, _HELDOUT_COLUMN
    ]
    measured = column[~np.isnan(column)]
    return float(measured.max()) if len(measured) else -math.inf


class BestKeeper:
    """Keeps `folder/best.safetensors` the checkpoint of the best held-out ELBO seen."""

    def __init__(self, folder: Path, history, min_interval_s: float = MIN_INTERVAL_S):
        self.path = folder / BEST_NAME
        self.min_interval_s = min_interval_s
        # A resumed run competes with its own past, and with a best file written after its checkpoint.
        self.best = max(best_heldout_elbo(history), self._saved_best())
        self._last_write = -math.inf
        self._pending = None  # (weights, history rows) of an improvement not yet written

    def _saved_best(self) -> float:
        try:
            saved = load_checkpoint(self.path) if self.path.exists() else None
        except VaeStudioError:
            return -math.inf  # unreadable: replaced by the next best
        return (
            -math.inf
            if saved is None or saved.history is None
            else best_heldout_elbo(saved.history)
        )

    def offer(self, snapshot: TrainingSnapshot, trainer: Trainer, history: list) -> None:
        """After `snapshot` (whose row `history` ends with): write it if its held-out ELBO is the best."""
        improved = snapshot.heldout_elbo is not None and snapshot.heldout_elbo > self.best
        if improved:
            self.best = snapshot.heldout_elbo
        if time.monotonic() - self._last_write < self.min_interval_s:
            if improved:
                average = None if trainer.ema is None else trainer.ema.state()
                self._pending = (dict(snapshot.model_state), list(history), average)
            return
        if improved:
            # The trainer is still at the snapshot's step: its whole state, so that best can resume.
            save_trainer(self.path, trainer, history)
            self._pending = None
            self._last_write = time.monotonic()
        else:
            self.flush(trainer)

    def flush(self, trainer: Trainer) -> None:
        """Write an improvement held back by the interval."""
        if self._pending is not None:
            weights, rows, average = self._pending
            save_checkpoint(self.path, trainer.config, weights, history=rows, ema_state=average)
            self._pending = None
            self._last_write = time.monotonic()
