"""Checkpoints: one safetensors file with weights, optimizer state, counters and the run's metric
history as tensors, and the run's config in its metadata. Nothing is ever unpickled; writes are
atomic. A checkpoint without a history (written before it was added) loads with none; every part of
one is checked before use (checkpoint_validation)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vae_core.checkpoint_validation import (
    COUNTER_PREFIX,
    HISTORY_NAME,
    MODEL_PREFIX,
    OPTIMIZER_PREFIX,
    check_counters,
    check_tensor_names,
    check_weights,
    parse_optimizer_settings,
    read_optimizer_state,
)
from vae_core.config import ConfigError, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.files import write_atomically
from vae_core.limits import parse_json
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.models import LatentModel, build_model
from vae_core.training.ema import EMA_PREFIX

FORMAT_VERSION = 1
# METRICS_COLUMNS has a dozen; room for later versions' columns, not for a million.
MAX_HISTORY_COLUMNS = 256
# The history (HISTORY_NAME) is a (rows, len(columns)) float64 table; the columns' names are in the
# metadata, so that columns added later do not break older readers or older files.


@dataclass
class Checkpoint:
    config: RunConfig
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict | None
    counters: dict[str, torch.Tensor]
    # The run's metrics, one row per snapshot in METRICS_COLUMNS order (None: not recorded).
    history: np.ndarray | None = None
    # The moving average of the weights (training/ema.py), where the run keeps one.
    ema_state: dict[str, torch.Tensor] | None = None


def save_checkpoint(
    path: str | Path,
    config: RunConfig,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict | None = None,
    counters: dict[str, torch.Tensor] | None = None,
    history=None,
    ema_state: dict[str, torch.Tensor] | None = None,
) -> None:
    """`history`: rows of METRICS_COLUMNS values (an array or a sequence of tuples), or None.
    `ema_state`: the weights' moving average, stored beside them under EMA_PREFIX."""
    path = Path(path)
    tensors = {MODEL_PREFIX + name: value for name, value in model_state.items()}
    tensors.update({EMA_PREFIX + name: value for name, value in (ema_state or {}).items()})
    metadata = {
        "format": "vae-studio",
        "format_version": str(FORMAT_VERSION),
        "config": config.to_json(),
    }
    if optimizer_state is not None:
        for index, state in optimizer_state["state"].items():
            for key, value in state.items():
                tensors[f"{OPTIMIZER_PREFIX}{index}.{key}"] = torch.as_tensor(value)
        metadata["optimizer_param_groups"] = json.dumps(optimizer_state["param_groups"])
    for name, value in (counters or {}).items():
        tensors[COUNTER_PREFIX + name] = value
    if history is not None and len(history):
        tensors[HISTORY_NAME] = torch.as_tensor(
            np.asarray(history, dtype=np.float64).reshape(-1, len(METRICS_COLUMNS))
        )
        metadata["history_columns"] = json.dumps(METRICS_COLUMNS)
    # safetensors stores each tensor on its own: no views, no shared storage, CPU only.
    tensors = {
        name: value.detach().to("cpu").contiguous().clone() for name, value in tensors.items()
    }
    try:
        write_atomically(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))
    except (SafetensorError, OSError) as error:  # a full disk, a folder not writable
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise VaeStudioError(f"cannot write {path}: {reason}") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """The checkpoint, once everything in it is checked (see checkpoint_validation)."""
    checkpoint, _ = _read_checkpoint(Path(path))
    return checkpoint


def read_config(path: str | Path) -> RunConfig:
    """A checkpoint's config from its metadata alone: no tensor is read."""
    path = Path(path)
    metadata, _ = _read_file(path, with_tensors=False)
    return _read_config(path, metadata)


def _read_checkpoint(path: Path) -> tuple[Checkpoint, LatentModel]:
    """The checkpoint and the model its config builds (with fresh weights), which its weights and
    optimizer state were checked against."""
    metadata, tensors = _read_file(path)
    config = _read_config(path, metadata)
    optimizer_settings = parse_optimizer_settings(path, metadata.get("optimizer_param_groups"))
    ema_state = {
        name[len(EMA_PREFIX) :]: tensors.pop(name)
        for name in list(tensors)
        if name.startswith(EMA_PREFIX)
    }
    check_tensor_names(path, tensors)
    try:
        model = build_model(config.model)
    except VaeStudioError as error:
        raise VaeStudioError(f"{path}: {error}") from None
    history = _read_history(path, tensors.pop(HISTORY_NAME, None), metadata.get("history_columns"))
    model_state, optimizer_tensors, counters = {}, {}, {}
    for name, value in tensors.items():
        if name.startswith(MODEL_PREFIX):
            model_state[name[len(MODEL_PREFIX) :]] = value
        elif name.startswith(OPTIMIZER_PREFIX):
            optimizer_tensors[name] = value
        else:
            counters[name[len(COUNTER_PREFIX) :]] = value
    check_weights(path, model, model_state)
    if ema_state:
        check_weights(path, model, {**model_state, **ema_state})
    check_counters(path, counters, config)
    optimizer_state = read_optimizer_state(path, optimizer_settings, optimizer_tensors, model)
    checkpoint = Checkpoint(
        config, model_state, optimizer_state, counters, history, ema_state or None
    )
    return checkpoint, model


def _read_file(
    path: Path, with_tensors: bool = True
) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if not path.is_file():
        raise VaeStudioError(f"{path}: checkpoint not found")
    try:
        with path.open("rb"):
            pass  # safetensors reports a file it may not read as missing: the system says why
    except OSError as error:
        raise VaeStudioError(f"{path}: cannot read the checkpoint ({error.strerror})") from None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = (
                {name: handle.get_tensor(name) for name in handle.keys()} if with_tensors else {}
            )
    except (SafetensorError, OSError, ValueError) as error:
        # The reader's own words, on one line whatever it put in them.
        reason = " ".join(str(error).split())
        raise VaeStudioError(f"{path}: not a readable safetensors checkpoint ({reason})") from None
    return metadata, tensors


def _read_config(path: Path, metadata: dict[str, str]) -> RunConfig:
    if metadata.get("format") != "vae-studio" or "config" not in metadata:
        raise VaeStudioError(f"{path}: a safetensors file, but not a VAE Studio checkpoint")
    try:
        version = int(metadata.get("format_version", "0"))
    except ValueError:
        raise VaeStudioError(f"{path}: checkpoint format version is not a number") from None
    if version > FORMAT_VERSION:
        raise VaeStudioError(
            f"{path}: checkpoint format {version} is newer than this program reads ({FORMAT_VERSION})"
        )
    try:
        return RunConfig.from_json(metadata["config"])
    except ConfigError as error:
        raise VaeStudioError(f"{path}: {error}") from None


def _read_history(
    path: Path, table: torch.Tensor | None, columns_json: str | None
) -> np.ndarray | None:
    """The rows in METRICS_COLUMNS order; a column the file lacks reads as NaN."""
    if table is None:
        return None
    columns = parse_json(columns_json or "", f"{path}: the metric history's column names")
    if (
        not isinstance(columns, list)
        or not 0 < len(columns) <= MAX_HISTORY_COLUMNS
        or not all(isinstance(column, str) for column in columns)
        or table.dim() != 2
        or table.shape[1] != len(columns)
        or not table.dtype.is_floating_point
    ):
        raise VaeStudioError(
            f"{path}: the metric history is not a table of {len(METRICS_COLUMNS)} named columns"
        )
    # NaN is a value not measured at that row (a held-out ELBO between evaluations).
    if torch.isinf(table).any():
        raise VaeStudioError(f"{path}: the metric history holds infinite values")
    stored = table.double().numpy()
    rows = np.full((len(stored), len(METRICS_COLUMNS)), np.nan)
    for index, column in enumerate(METRICS_COLUMNS):
        if column in columns:
            rows[:, index] = stored[:, columns.index(column)]
    return rows


def save_trainer(path: str | Path, trainer, history=None) -> None:
    """The trainer's whole state, and the run's metric history when given."""
    save_checkpoint(
        path,
        trainer.config,
        trainer.model.state_dict(),
        trainer.optimizer.state_dict(),
        trainer.counters(),
        history,
        None if trainer.ema is None else trainer.ema.state(),
    )


def load_model(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[LatentModel, Checkpoint]:
    """The model of a checkpoint, ready for inference, and the checkpoint itself: with the
    weights' moving average where the run kept one (what it evaluated), else its weights."""
    checkpoint, model = _read_checkpoint(Path(path))
    model.load_state_dict({**checkpoint.model_state, **(checkpoint.ema_state or {})})
    return model.to(device).eval(), checkpoint
