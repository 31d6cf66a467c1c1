"""A run folder that one run writes at a time: a lock file with the writer's pid, taken over when
its process is gone; the temporary files of writes that a killed process left behind are removed."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from vae_core.errors import VaeStudioError

LOCK_NAME = "run.lock"
CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.csv"
CONFIG_NAME = "config.json"
BEST_NAME = "best.safetensors"  # the checkpoint of the best held-out ELBO


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class RunFolderLock:
    """Held while a run writes `folder`; a second writer is refused with one line."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / LOCK_NAME
        self._held = False

    def __enter__(self) -> RunFolderLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(2):  # a stale lock is removed once, then taken
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and owner != os.getpid() and _alive(owner):
                    raise VaeStudioError(
                        f"{self.folder} is being written by another run (process {owner}): "
                        "wait for it to end, or choose another --out"
                    ) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(handle, "w") as lock:
                lock.write(f"{os.getpid()}\n")
            self._held = True
            return self
        raise VaeStudioError(f"{self.path}: cannot take the run folder's lock")

    def _owner(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None  # unreadable or half-written: no live owner to protect

    def __exit__(self, *_) -> None:
        if self._held and self._owner() == os.getpid():
            self.path.unlink(missing_ok=True)
        self._held = False


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
