"""A run folder that one run writes at a time (its lock: vae_core.run_lock); the temporary files
of writes that a killed process left behind are removed."""

from __future__ import annotations

import errno
from pathlib import Path

from vae_core.run_lock import LOCK_NAME, RunFolderLock

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_NAME",
    "LOCK_NAME",
    "METRICS_NAME",
    "RunFolderLock",
    "holds_run",
    "remove_stale_partials",
]

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.csv"
CONFIG_NAME = "config.json"
BEST_NAME = "best.safetensors"  # the checkpoint of the best held-out ELBO


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete the temporary files of atomic writes that never finished (a killed save)."""
    removed = []
    for partial in folder.glob(".*.partial"):
        try:
            partial.unlink()
        except OSError as error:
            if error.errno != errno.ENOENT:
                raise
        else:
            removed.append(partial)
    return removed


def holds_run(folder: Path) -> bool:
    return (folder / CHECKPOINT_NAME).exists() or (folder / METRICS_NAME).exists()
