"""A model folder in the layout the Hugging Face Hub shares models in: `model.safetensors` (the
weights alone, under their own names), `config.json` (the run's config) and `README.md` (a model
card, see model_card). `load_pretrained` reads one back; `open_model` opens whatever a user names
(a run folder, a checkpoint file or a model folder), so that `evaluate`, `analyze` and the window
take all three."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vae_core.checkpoint import Checkpoint, load_model
from vae_core.checkpoint_validation import check_weights
from vae_core.config import ConfigError, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.files import write_atomically, write_failure
from vae_core.models import LatentModel, build_model
from vae_core.run_folder import CHECKPOINT_NAME, CONFIG_NAME
from vae_core.run_record import write_config

WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and (path / WEIGHTS_NAME).is_file() and (path / CONFIG_NAME).is_file()


def write_model_folder(folder: Path, config: RunConfig, model: LatentModel, card: str) -> None:
    """Weights, config and card, each file whole or not at all."""
    weights = {
        name: value.detach().cpu().contiguous() for name, value in model.state_dict().items()
    }
    path = folder / WEIGHTS_NAME
    try:
        # "pt": the metadata the Hub's safetensors files carry for PyTorch weights.
        write_atomically(path, lambda temporary: save_file(weights, temporary, {"format": "pt"}))
    except (SafetensorError, OSError) as error:
        reason = getattr(error, "strerror", None) or error
        raise VaeStudioError(f"cannot write {path}: {reason}") from None
    write_config(folder, config)
    card_path = folder / CARD_NAME
    try:
        write_atomically(card_path, lambda temporary: Path(temporary).write_text(card, "utf-8"))
    except OSError as error:
        raise write_failure(card_path, error) from None


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise VaeStudioError(f"{path}: not a readable safetensors file ({reason})") from None


def _read_pretrained(folder: Path) -> tuple[LatentModel, Checkpoint]:
    if not is_model_folder(folder):
        raise VaeStudioError(
            f"{folder}: not a model folder (it needs {WEIGHTS_NAME} and {CONFIG_NAME})"
        )
    try:
        config = RunConfig.from_file(folder / CONFIG_NAME)
        model = build_model(config.model)
    except (ConfigError, VaeStudioError) as error:
        raise VaeStudioError(f"{folder / CONFIG_NAME}: {error}") from None
    weights_path = folder / WEIGHTS_NAME
    weights = _read_weights(weights_path)
    check_weights(weights_path, model, weights)
    model.load_state_dict(weights)
    return model.eval(), Checkpoint(config, weights, None, {}, None)


def load_pretrained(folder: str | Path, device: torch.device | str = "cpu") -> LatentModel:
    """The model a model folder holds, ready for inference on `device`."""
    model, _ = _read_pretrained(Path(folder))
    return model.to(device)


def model_source(path: str | Path) -> Path:
    """What `open_model` reads for a name a user gave: a model folder, or a checkpoint file (a run
    folder's own; a name that is neither a file nor a checkpoint's is taken for a run folder, so
    that a missing one is named with its checkpoint)."""
    path = Path(path)
    if path.is_file() and path.name == WEIGHTS_NAME and is_model_folder(path.parent):
        return path.parent
    if is_model_folder(path) or path.is_file() or path.suffix == ".safetensors":
        return path
    return path / CHECKPOINT_NAME


def open_model(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[LatentModel, Checkpoint]:
    """The model and its checkpoint (a model folder's has no optimizer state, counters or history)
    from a run folder, a checkpoint file, a model folder or a model folder's weights file."""
    source = model_source(path)
    if is_model_folder(source):
        model, checkpoint = _read_pretrained(source)
        return model.to(device), checkpoint
    return load_model(source, device)
