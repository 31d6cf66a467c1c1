"""Reader for the IDX format of MNIST and its siblings (optionally gzip-compressed)."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from vae_core import limits
from vae_core.data.dataset import DataSplit, ImageDataset
from vae_core.errors import VaeStudioError
from vae_core.limits import check_regular_file, gunzip_bounded, read_bytes_bounded

_UNSIGNED_BYTE = 0x08


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (uint8 data only, which is what image sets use)."""
    path = Path(path)
    raw = _read_bounded(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise VaeStudioError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != _UNSIGNED_BYTE:
        raise VaeStudioError(
            f"{path}: IDX element type 0x{raw[2]:02x} is not supported (only unsigned bytes)"
        )
    rank = raw[3]
    header_size = 4 + 4 * rank
    if rank == 0 or len(raw) < header_size:
        raise VaeStudioError(f"{path}: IDX header is truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=rank, offset=4))
    expected = math.prod(shape)
    if len(raw) - header_size != expected:
        raise VaeStudioError(
            f"{path}: IDX header promises {expected:,} values of shape {shape} "
            f"but the file holds {len(raw) - header_size:,}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, gzip-decompressed where it is gzip. What its header claims is read
    first and held to the limit on arrays; then no more than that is read or decompressed (a
    sparse file is refused by its size, a gzip bomb stops just past its header's claim)."""
    check_regular_file(path, "IDX file")
    try:
        with path.open("rb") as handle:
            compressed = handle.read(2) == b"\x1f\x8b"
            handle.seek(0)
            claimed = _claimed_bytes(path, gzip.GzipFile(fileobj=handle) if compressed else handle)
            handle.seek(0)
            if compressed:
                return gunzip_bounded(handle, claimed, str(path))
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise VaeStudioError(f"{path}: corrupt or truncated gzip data ({error})") from None
    except OSError as error:
        raise VaeStudioError(f"{path}: cannot read it ({error.strerror or error})") from None
    return read_bytes_bounded(path, claimed, "IDX file")


def _claimed_bytes(path: Path, stream) -> int:
    """The bytes the header and the array it describes take (the limit where the header is cut
    short: the checks after reading name that)."""
    head = stream.read(4)
    if len(head) == 4:
        head += stream.read(4 * head[3])
    rank = head[3] if len(head) >= 4 else 0
    if len(head) < 4 + 4 * rank or rank == 0:
        return limits.MAX_ARRAY_BYTES
    claimed = len(head) + math.prod(struct.unpack(f">{rank}I", head[4:]))
    if claimed > limits.MAX_ARRAY_BYTES:
        raise VaeStudioError(
            f"{path}: its IDX header claims {claimed:,} bytes, more than the "
            f"{limits.MAX_ARRAY_BYTES / limits.GIB:g} GiB allowed"
        )
    return claimed


def holds_idx_files(folder: Path) -> bool:
    """Whether `folder` holds an MNIST-layout training set (what an `idx:` data set reads first)."""
    return any(
        (folder / name).is_file()
        for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte")
    )


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise VaeStudioError(f"{folder}: missing {stem}.gz")


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3:
        raise VaeStudioError(
            f"{images_path}: expected images of rank 3 (N, H, W), got shape {images.shape}"
        )
    if labels.ndim != 1:
        raise VaeStudioError(f"{labels_path}: expected labels of rank 1, got shape {labels.shape}")
    if images.size == 0:
        raise VaeStudioError(f"{images_path}: holds no images (shape {images.shape})")
    if len(images) != len(labels):
        raise VaeStudioError(
            f"{images_path}: {len(images):,} images but {labels_path.name} has {len(labels):,} labels"
        )
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def load_idx_folder(
    name: str, folder: str | Path, class_names: tuple[str, ...] | None = None
) -> DataSplit:
    """The four files of the MNIST layout (train/t10k images and labels) in one folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VaeStudioError(f"{folder}: data folder not found")
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = read_idx_pair(
            _find(folder, f"{prefix}-images-idx3-ubyte"),
            _find(folder, f"{prefix}-labels-idx1-ubyte"),
        )
        parts[split] = (images, labels)
    num_classes = int(max(parts["train"][1].max(), parts["test"][1].max())) + 1
    names = class_names or tuple(str(i) for i in range(num_classes))
    return DataSplit(
        train=ImageDataset(name, *parts["train"], class_names=names),
        test=ImageDataset(name, *parts["test"], class_names=names),
    )
