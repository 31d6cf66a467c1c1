"""Data sets by name: built-in generated sets and files read from disk."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from vae_core.config import DataConfig
from vae_core.data.dataset import DataSplit, ImageDataset, split_by_seed
from vae_core.data.glyphs import DEFAULT_SIZE as GLYPHS_DEFAULT_SIZE
from vae_core.data.glyphs import make_glyphs
from vae_core.data.idx import load_idx_folder, read_idx
from vae_core.errors import VaeStudioError

__all__ = ["DataSplit", "ImageDataset", "load_data", "dataset_names", "read_idx", "cache_dir"]


def cache_dir() -> Path:
    """Where downloaded data sets live: VAE_STUDIO_CACHE_DIR, else the user's cache folder."""
    override = os.environ.get("VAE_STUDIO_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vae-studio"


def _load_glyphs(config: DataConfig) -> DataSplit:
    data = make_glyphs(config.size or GLYPHS_DEFAULT_SIZE, seed=config.seed)
    return split_by_seed(data, config.test_fraction, config.seed)


def _load_mnist(config: DataConfig) -> DataSplit:
    folder = Path(config.data_dir) if config.data_dir else cache_dir() / "mnist"
    if not folder.is_dir():
        raise VaeStudioError(f"MNIST files not found in {folder}: pass --data-dir DIR with the four IDX files")
    return load_idx_folder("mnist", folder)


def _load_idx(config: DataConfig, folder: str) -> DataSplit:
    return load_idx_folder(Path(folder).name or "idx", folder)


# Data sets known by name; each maps a config to its train/test split.
NAMED_DATASETS: dict[str, Callable[[DataConfig], DataSplit]] = {
    "glyphs": _load_glyphs,
    "mnist": _load_mnist,
}

# Data sets named "kind:LOCATION" (a folder or a file of the user's).
LOCATED_DATASETS: dict[str, Callable[[DataConfig, str], DataSplit]] = {
    "idx": _load_idx,
}


def dataset_names() -> list[str]:
    return list(NAMED_DATASETS)


def load_data(config: DataConfig) -> DataSplit:
    name = config.dataset
    kind, separator, location = name.partition(":")
    if separator:
        if kind not in LOCATED_DATASETS:
            raise VaeStudioError(
                f"unknown data source '{kind}:' (choose from {', '.join(k + ':' for k in LOCATED_DATASETS)})"
            )
        return LOCATED_DATASETS[kind](config, location)
    if name not in NAMED_DATASETS:
        raise VaeStudioError(f"unknown data set '{name}' (choose from {', '.join(NAMED_DATASETS)})")
    return NAMED_DATASETS[name](config)
