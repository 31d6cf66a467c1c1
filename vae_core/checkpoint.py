"""Checkpoints: one safetensors file with weights, optimizer state and counters as tensors, and
the run's config in its metadata. Nothing is ever unpickled; writes are atomic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vae_core.config import ConfigError, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.files import write_atomically
from vae_core.models import LatentModel, build_model

FORMAT_VERSION = 1
_MODEL, _OPTIMIZER, _COUNTER = "model.", "optimizer.state.", "counter."


@dataclass
class Checkpoint:
    config: RunConfig
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict | None
    counters: dict[str, torch.Tensor]


def save_checkpoint(
    path: str | Path,
    config: RunConfig,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict | None = None,
    counters: dict[str, torch.Tensor] | None = None,
) -> None:
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
    # safetensors stores each tensor on its own: no views, no shared storage, CPU only.
    tensors = {name: value.detach().to("cpu").contiguous().clone() for name, value in tensors.items()}
    write_atomically(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))


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
    return Checkpoint(config, model_state, optimizer_state, counters)


def save_trainer(path: str | Path, trainer) -> None:
    save_checkpoint(path, trainer.config, trainer.model.state_dict(), trainer.optimizer.state_dict(), trainer.counters())


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
