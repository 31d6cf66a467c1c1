"""MNIST, Fashion-MNIST and Kuzushiji-MNIST: IDX gzip files read from disk, downloaded if missing.

Files are read from `DataConfig.data_dir` when given, else from `cache_dir()/NAME`; the ones
missing there are downloaded into that folder, trying `DataConfig.mirrors` (the `--mirror`
flag), then VAE_STUDIO_DATA_MIRRORS, then the set's own mirrors, each a base URL under which
the original file names are served.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vae_core.config import DataConfig
from vae_core.data.dataset import DataSplit
from vae_core.data.downloads import (
    DownloadCancelled,
    ProgressCallback,
    RemoteFile,
    cache_dir,
    download_all,
    environment_mirrors,
)
from vae_core.data.idx import load_idx_folder
from vae_core.errors import VaeStudioError

_FILE_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@dataclass(frozen=True)
class IdxSource:
    class_names: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]


def _files(algorithm: str, sizes: tuple[int, ...], *digests: str) -> tuple[RemoteFile, ...]:
    return tuple(
        RemoteFile(name, size, algorithm, digest)
        for name, size, digest in zip(_FILE_NAMES, sizes, digests, strict=True)
    )


IDX_SOURCES: dict[str, IdxSource] = {
    # SHA-256 of the original files (their MD5s are the ones torchvision publishes).
    "mnist": IdxSource(
        class_names=tuple(str(digit) for digit in range(10)),
        files=_files(
            "sha256",
            (9_912_422, 28_881, 1_648_877, 4_542),
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://yann.lecun.com/exdb/mnist/",
        ),
    ),
    # MD5s as published with the data sets (and in torchvision).
    "fashion-mnist": IdxSource(
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        files=_files(
            "md5",
            (26_421_880, 29_515, 4_422_102, 5_148),
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
        mirrors=(
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
    ),
    "kmnist": IdxSource(
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        files=_files(
            "md5",
            (18_165_135, 29_497, 3_041_136, 5_120),
            "bdb82020997e1d708af4cf47b453dcf7",
            "e144d726b3acfaa3e44228e80efcd344",
            "5c965bf0a639b31b8f53240b1b52f4d7",
            "7320c461ea6c1c855c0b718fb2a4b134",
        ),
        mirrors=(
            "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        ),
    ),
}


# The first ten training labels of the sets whose files are most often mixed up: files of one set
# put where another's are expected load without error, and would train under the wrong class
# names (digits called "T-shirt/top").
_TRAIN_LABELS_START = {
    "mnist": (5, 0, 4, 1, 9, 2, 1, 3, 1, 4),
    "fashion-mnist": (9, 0, 0, 3, 0, 2, 7, 2, 5, 5),
}


def check_files_are_the_set(name: str, folder: Path, split: DataSplit) -> None:
    """One line when the files in `folder`, read as the set `name`, are another known set's."""
    start = tuple(int(label) for label in split.train.labels[:10])
    for other, labels in _TRAIN_LABELS_START.items():
        if other != name and start == labels:
            raise VaeStudioError(
                f"{name}: the files in {folder} are {other}'s, not {name}'s (their labels are "
                f"{other}'s): choose {other}, or put {name}'s files there"
            )


def _present(folder: Path, name: str) -> bool:
    # A file the user unpacked themselves counts as present too.
    return (folder / name).is_file() or (folder / name.removesuffix(".gz")).is_file()


def source_folder(name: str, config: DataConfig) -> Path:
    """Where the files of the set `name` are read from and downloaded into."""
    return Path(config.data_dir) if config.data_dir else cache_dir() / name


def missing_files(name: str, config: DataConfig) -> tuple[str, ...]:
    """The file names of the set `name` not yet in its folder."""
    folder = source_folder(name, config)
    return tuple(
        remote.name for remote in IDX_SOURCES[name].files if not _present(folder, remote.name)
    )


def missing_files_message(name: str, config: DataConfig, missing: tuple[str, ...]) -> str:
    """One line saying which files the set needs and where they go."""
    return f"{name}: {', '.join(missing)} missing in {source_folder(name, config)} (put the set's files there)"


def load_idx_source(
    name: str, config: DataConfig, progress: ProgressCallback | None = None
) -> DataSplit:
    source = IDX_SOURCES[name]
    folder = source_folder(name, config)
    mirrors = (*config.mirrors, *environment_mirrors(), *source.mirrors)
    missing = missing_files(name, config)
    if missing:
        try:
            download_all(
                [remote for remote in source.files if remote.name in missing],
                folder,
                mirrors,
                progress,
            )
        except DownloadCancelled:
            raise
        except VaeStudioError as error:
            raise VaeStudioError(
                f"{missing_files_message(name, config, missing)}; downloading them failed: {error}"
            ) from None
    split = load_idx_folder(name, folder, source.class_names)
    check_files_are_the_set(name, folder, split)
    return split
