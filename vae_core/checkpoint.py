"""Checkpoints: one safetensors file with weights, optimizer state, counters and the run's metric
history as tensors, and the run's config in its metadata. Nothing is ever unpickled; writes are
atomic. A checkpoint without a history (written before it was added) loads with none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vae_core.config import ConfigError, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.files import write_atomically
from vae_core.models import LatentModel, build_model
from vae_core.training.trainer import METRICS_COLUMNS

FORMAT_VERSION = 1
_MODEL, _OPTIMIZER, _COUNTER = "model.", "optimizer.state.", "counter."
# (rows, len(columns)) float64; the columns' names are in the metadata, so that columns added
# later do not break older readers or older files.
_HISTORY = "history.metrics"


@dataclass
class Checkpoint:
    config: RunConfig
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict | None
    counters: dict[str, torch.Tensor]
    # The run's metrics, one row per snapshot in METRICS_COLUMNS order (None: not recorded).
    history: np.ndarray | None = None


def save_checkpoint(
    path: str | Path,
    config: RunConfig,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict | None = None,
    counters: dict[str, torch.Tensor] | None = None,
    history=None,
) -> None:
    """`history`: rows of METRICS_COLUMNS values (an array or a sequence of tuples), or None."""
    path = Path(path)
    tensors = {_MODEL + name: value for name, value in model_state.items()}
    metadata = {"format": "vae-studio", "format_version": str(FORMAT_VERSION), "config": config.to_json()}
    if optimizer_state is not None:
        for index, state in optimizer_state["state"].items():
            for key, value in state.items():
                tensors[f"{_OPTIMIZER}{index}.{key}"] = torch.as_tensor(value)
        metadata["optimizer_param_groups"] = json.dumps(optimizer_state["param_groups"])
    for name, value in (counters or {}).items():
        tensors[_COUNTER + name] = value
    if history is not None and len(history):
        tensors[_HISTORY] = torch.as_tensor(np.asarray(history, dtype=np.float64).reshape(-1, len(METRICS_COLUMNS)))
        metadata["history_columns"] = json.dumps(METRICS_COLUMNS)
    # safetensors stores each tensor on its own: no views, no shared storage, CPU only.
    tensors = {name: value.detach().to("cpu").contiguous().clone() for name, value in tensors.items()}
    try:
        write_atomically(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))
    except (SafetensorError, OSError) as error:  # a full disk, a folder not writable
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise VaeStudioError(f"cannot write {path}: {reason}") from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise VaeStudioError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise VaeStudioError(f"{path}: not a readable safetensors checkpoint ({error})") from None
    if metadata.get("format") != "vae-studio" or "config" not in metadata:
        raise VaeStudioError(f"{path}: a safetensors file, but not a VAE Studio checkpoint")
    try:
        version = int(metadata.get("format_version", "0"))
    except ValueError:
        raise VaeStudioError(f"{path}: checkpoint format version is not a number") from None
    if version > FORMAT_VERSION:
        raise VaeStudioError(f"{path}: checkpoint format {version} is newer than this program reads ({FORMAT_VERSION})")
    try:
        config = RunConfig.from_json(metadata["config"])
    except ConfigError as error:
        raise VaeStudioError(f"{path}: {error}") from None
    history = _read_history(path, tensors.pop(_HISTORY, None), metadata.get("history_columns"))
    model_state, optimizer_tensors, counters = {}, {}, {}
    for name, value in tensors.items():
        if name.startswith(_MODEL):
            model_state[name[len(_MODEL):]] = value
        elif name.startswith(_OPTIMIZER):
            index, key = name[len(_OPTIMIZER):].split(".", 1)
            optimizer_tensors.setdefault(int(index), {})[key] = value
        elif name.startswith(_COUNTER):
            counters[name[len(_COUNTER):]] = value
    optimizer_state = None
    if "optimizer_param_groups" in metadata:
        try:
            param_groups = json.loads(metadata["optimizer_param_groups"])
        except json.JSONDecodeError:
            raise VaeStudioError(f"{path}: the optimizer settings in the checkpoint are not valid JSON") from None
        optimizer_state = {"state": optimizer_tensors, "param_groups": param_groups}
    return Checkpoint(config, model_state, optimizer_state, counters, history)


def _read_history(path: Path, table: torch.Tensor | None, columns_json: str | None) -> np.ndarray | None:
    """The rows in METRICS_COLUMNS order; a column the file lacks reads as NaN."""
    if table is None:
        return None
    try:
        columns = json.loads(columns_json or "")
    except json.JSONDecodeError:
        raise VaeStudioError(f"{path}: the metric history's column names are not valid JSON") from None
    if (
        not isinstance(columns, list)
        or table.dim() != 2
        or table.shape[1] != len(columns)
        or not table.dtype.is_floating_point
    ):
        raise VaeStudioError(f"{path}: the metric history is not a table of {len(METRICS_COLUMNS)} named columns")
    stored = table.double().numpy()
    rows = np.full((len(stored), len(METRICS_COLUMNS)), np.nan)
    for index, column in enumerate(METRICS_COLUMNS):
        if column in columns:
            rows[:, index] = stored[:, columns.index(column)]
    return rows


def save_trainer(path: str | Path, trainer, history=None) -> None:
    """The trainer's whole state, and the run's metric history when given."""
    save_checkpoint(
        path, trainer.config, trainer.model.state_dict(), trainer.optimizer.state_dict(), trainer.counters(), history
    )


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[LatentModel, Checkpoint]:
    """The model of a checkpoint, ready for inference, and the checkpoint itself."""
    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint.config.model)
    try:
        model.load_state_dict(checkpoint.model_state)
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0]
        raise VaeStudioError(f"{path}: weights do not fit the model in its config ({first_line})") from None
    return model.to(device).eval(), checkpoint
