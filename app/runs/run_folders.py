"""Run folders as the Runs list reads them (no Qt; every call belongs on a worker).

A folder the window writes at a run's end (vae_core.run_record's `write_run_folder`, the writer
the command line uses too) holds what a command-line run's does: `metrics.csv`,
`config.json` and `checkpoint.safetensors` (the run's last snapshot's weights; no optimizer state,
so a resumed run starts a fresh Adam). Reading one takes the config from the checkpoint's
metadata alone (no tensor is read), else from `config.json`; a folder with metrics and neither
is listed with no config. A run whose config asks for TensorBoard gets its events there too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from vae_core.checkpoint import read_config
from vae_core.config import RunConfig
from vae_core.data import ImageDataset
from vae_core.errors import VaeStudioError
from vae_core.metrics_reader import MetricsTail
from vae_core.models import build_model
from vae_core.run_folder import CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME
from vae_core.run_record import write_run_folder
from vae_core.tensorboard_log import write_finished_run


@dataclass(frozen=True)
class RunFolder:
    folder: Path
    config: RunConfig | None
    rows: np.ndarray  # METRICS_COLUMNS values


def write_window_run(
    folder: Path,
    config: RunConfig,
    rows: np.ndarray,
    weights: dict[str, torch.Tensor] | None,
    test: ImageDataset | None,
) -> Path:
    """A window's run written as a command-line run's folder, with its TensorBoard events when
    its config asks for them (`train.tensorboard`) and its weights are known."""
    write_run_folder(folder, config, rows, weights)
    if config.train.tensorboard and weights is not None:
        model = build_model(config.model)
        model.load_state_dict(weights)
        try:
            write_finished_run(folder, config, rows, model, test)
        except VaeStudioError as error:
            raise VaeStudioError(
                f"{folder} holds the run, but not its TensorBoard events: {error}"
            ) from None
    return folder


@dataclass(frozen=True)
class RestoredFolders:
    """The folders a new session lists again, and one line for those it drops (or "")."""

    folders: tuple[tuple[RunFolder, bool], ...]  # each with its tick
    dropped: str


def folder_name(started: datetime, config: RunConfig) -> str:
    """`<time>-<family>-<dataset>`, safe as a file name anywhere."""
    name = f"{started:%Y%m%d-%H%M%S}-{config.model.family}-{config.data.dataset}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def read_run_folder(folder: str | Path) -> RunFolder:
    """The folder's metrics and config, or a VaeStudioError of one line saying what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VaeStudioError(f"{folder}: no such folder")
    metrics = folder / METRICS_NAME
    if not metrics.is_file():
        raise VaeStudioError(f"{folder}: not a run folder (no {METRICS_NAME})")
    try:
        rows = MetricsTail(metrics).read().rows
    except OSError as error:
        raise VaeStudioError(f"{metrics}: cannot read it ({error.strerror})") from None
    if not len(rows):
        raise VaeStudioError(f"{metrics}: no rows of metrics in it")
    if (folder / CHECKPOINT_NAME).exists():
        config = read_config(folder / CHECKPOINT_NAME)
    elif (folder / CONFIG_NAME).is_file():
        config = RunConfig.from_file(folder / CONFIG_NAME)
    else:
        config = None
    return RunFolder(folder, config, rows)


def restore_folders(folders: Sequence[tuple[str, bool]]) -> RestoredFolders:
    """Read the folders a past session listed; those gone or unreadable are dropped in one line."""
    read, gone, unreadable = [], [], []
    for folder, checked in folders:
        try:
            read.append((read_run_folder(folder), checked))
        except VaeStudioError:
            (unreadable if Path(folder).is_dir() else gone).append(folder)
    parts = [
        f"{len(gone)} no longer there" if gone else "",
        f"{len(unreadable)} unreadable" if unreadable else "",
    ]
    dropped = ""
    if gone or unreadable:
        count = len(gone) + len(unreadable)
        dropped = f"{count} run folder{'s' if count > 1 else ''} dropped from the Runs list ({', '.join(p for p in parts if p)})"
    return RestoredFolders(tuple(read), dropped)
