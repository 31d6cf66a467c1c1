"""Data sets by name: built-in generated sets, the MNIST family, and files read from disk.

Every loader takes the run's `DataConfig` and an optional progress callback
`(done_bytes, total_bytes)` that downloads report to (a bar on the command line, a dialog in
the window); `load_data` gives the train/test split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import torch

from vae_core.choices import check_choice, lookup
from vae_core.config import DataConfig
from vae_core.data.dataset import DatasetInfo, DataSplit, ImageDataset, split_by_seed
from vae_core.data.downloads import ProgressCallback, cache_dir
from vae_core.data.glyphs import DEFAULT_SIZE as GLYPHS_DEFAULT_SIZE
from vae_core.data.glyphs import load_glyphs
from vae_core.data.idx import holds_idx_files, load_idx_folder, read_idx
from vae_core.data.mnist_family import IDX_SOURCES, load_idx_source
from vae_core.data.points import POINT_CLOUDS, make_points
from vae_core.data.sprites import make_sprites
from vae_core.data.user_files import channels_for, load_npy, load_npz
from vae_core.data.user_images import load_image_folder
from vae_core.errors import VaeStudioError

__all__ = [
    "GENERATED_SETS",
    "LOCATED_DATASETS",
    "NAMED_DATASETS",
    "DataSplit",
    "DatasetInfo",
    "ImageDataset",
    "ProgressCallback",
    "cache_dir",
    "data_location",
    "dataset_for_path",
    "dataset_names",
    "load_data",
    "read_idx",
]

DataLoader = Callable[[DataConfig, ProgressCallback | None], DataSplit]

# Sets made in code: (size or None for the default, seed) -> the whole data set.
GENERATED_SETS: dict[str, Callable[[int | None, int], ImageDataset]] = {
    "glyphs": lambda size, seed: load_glyphs(size or GLYPHS_DEFAULT_SIZE, seed),
    "sprites": partial(make_sprites, "sprites", image_size=64),
    "sprites32": partial(make_sprites, "sprites32", image_size=32),
    **{name: partial(make_points, name) for name in POINT_CLOUDS},
}


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Torch ops on one thread here: drawing a data set is many small ops, and two threads that
    meet at a barrier after each are 5x slower than one on a loaded 2-core machine (12,000
    glyphs: 27-36 s against 5-7 s with other work running)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _generated(make: Callable[[int | None, int], ImageDataset]) -> DataLoader:
    def load(config: DataConfig, progress: ProgressCallback | None = None) -> DataSplit:
        with one_torch_thread():
            return split_by_seed(make(config.size, config.seed), config.test_fraction, config.seed)

    return load


def _from_file(read: Callable[[DataConfig, str], ImageDataset]):
    """A loader for the user's own file or folder, which has no test split of its own."""

    def load(
        config: DataConfig, location: str, progress: ProgressCallback | None = None
    ) -> DataSplit:
        return split_by_seed(read(config, location), config.test_fraction, config.seed)

    return load


def _load_idx(
    config: DataConfig, folder: str, progress: ProgressCallback | None = None
) -> DataSplit:
    return load_idx_folder(Path(folder).name or "idx", folder)


# Data sets known by name; each maps a config (and a progress callback) to its train/test split.
NAMED_DATASETS: dict[str, DataLoader] = {
    **{name: _generated(make) for name, make in GENERATED_SETS.items()},
    **{name: partial(load_idx_source, name) for name in IDX_SOURCES},
}

# Data sets named "kind:LOCATION" (a folder or a file of the user's).
LOCATED_DATASETS: dict[str, Callable[..., DataSplit]] = {
    "idx": _load_idx,
    "npz": _from_file(load_npz),
    "npy": _from_file(load_npy),
    "folder": _from_file(load_image_folder),
}


def dataset_names() -> list[str]:
    return list(NAMED_DATASETS)


def dataset_for_path(path: str | Path) -> str:
    """The data set name that reads a file or folder of the user's: `npz:`/`npy:` by the suffix,
    `idx:` for a folder of IDX files, `folder:` for any other folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".npz", ".npy"):
        return f"{suffix[1:]}:{path}"
    if path.is_dir():
        return f"{'idx' if holds_idx_files(path) else 'folder'}:{path}"
    if not path.exists():
        raise VaeStudioError(f"{path}: not found")
    raise VaeStudioError(
        f"{path}: not a data set (a folder of images or of IDX files, or an .npz or .npy file)"
    )


def data_location(config: DataConfig) -> Path | None:
    """The file or folder of the user's that `config` reads, if any."""
    _kind, separator, location = config.dataset.partition(":")
    if separator:
        return Path(location)
    return Path(config.data_dir) if config.data_dir else None


def load_data(config: DataConfig, progress: ProgressCallback | None = None) -> DataSplit:
    # Checked for every set, though only the user's own images use it: a misspelt color is
    # named, not ignored.
    channels_for(config)
    name = config.dataset
    kind, separator, location = name.partition(":")
    if separator:
        check_choice("data source", f"{kind}:", [located + ":" for located in LOCATED_DATASETS])
        if not location:
            raise VaeStudioError(f"data source '{kind}:' needs a location, e.g. {kind}:PATH")
        return LOCATED_DATASETS[kind](config, location, progress)
    return lookup(NAMED_DATASETS, "data set", name)(config, progress)
