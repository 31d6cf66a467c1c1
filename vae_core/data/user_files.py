"""The user's own data as arrays: `npz:FILE` and `npy:FILE` (folders of images: `user_images`).

Arrays are (N, H, W) or (N, H, W, C) with C of 1, 3 or 4 (alpha is dropped): integers in
[0, 255], booleans, or floats in [0, 1]. An .npz names its images `images` (or `x`, `X`, or is
its only array) and may carry labels as `labels` (or `y`, `Y`): integers, or strings that
become class names. Integer labels of up to `MAX_DENSE_LABEL` name classes 0..max; larger ones
are renumbered 0..K-1 in order, keep their values as class names, and the notes say so.

Everything becomes uint8 (N, C, H, W) with `DataConfig.color` channels (grayscale or rgb),
resized to `DataConfig.image_size` squares when it is set. The decoded data is bounded
(`MAX_IMAGE_SIDE`, `MAX_DECODED_BYTES`) so that a bad size fails in one line, not in the allocator.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vae_core.choices import lookup
from vae_core.config import DataConfig
from vae_core.data.array_headers import check_array_file
from vae_core.data.dataset import ImageDataset
from vae_core.errors import VaeStudioError

COLOR_CHANNELS = {"grayscale": 1, "rgb": 3}
# Larger images are far beyond what the models here can train on, and a few of them already
# take gigabytes once decoded; a larger side is nearly always a missing or mistyped --image-size.
MAX_IMAGE_SIDE = 2048
# What decoded uint8 images may take in all; the largest built-in set (sprites) takes 3 GB.
MAX_DECODED_BYTES = 8 * 2**30
# Labels up to this value name classes 0..value directly; larger ones are renumbered.
MAX_DENSE_LABEL = 9_999
# More classes than this is not a classification a model here can condition on or plot.
MAX_CLASSES = 10_000
_IMAGE_KEYS = ("images", "x", "X")
_LABEL_KEYS = ("labels", "y", "Y")
# ITU-R BT.601 luma, the weights Pillow uses for its own RGB -> L conversion.
_LUMA = torch.tensor([0.299, 0.587, 0.114])
_RESIZE_CHUNK_VALUES = 2**26  # floats of one resize step: 256 MB


# What numpy and zipfile raise on a file that is not what it claims: ValueError for pickled
# objects, OSError or EOFError for truncated files, the others for damaged archives.
_NUMPY_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    zipfile.BadZipFile,
)


def channels_for(config: DataConfig) -> int:
    return lookup(COLOR_CHANNELS, "color", config.color)


def check_image_size(config: DataConfig) -> None:
    size = config.image_size
    if size is not None and not 1 <= size <= MAX_IMAGE_SIDE:
        raise VaeStudioError(f"image size must be from 1 to {MAX_IMAGE_SIDE} pixels, got {size}")


def check_decoded_size(source: Path, count: int, channels: int, width: int, height: int) -> None:
    """Refuses, before anything is allocated, images too large to decode and hold."""
    if max(width, height) > MAX_IMAGE_SIDE:
        raise VaeStudioError(
            f"{source}: images of {width}x{height} pixels are larger than {MAX_IMAGE_SIDE} on a side: "
            "choose a smaller side with --image-size (e.g. 64)"
        )
    decoded = count * channels * width * height
    if decoded > MAX_DECODED_BYTES:
        raise VaeStudioError(
            f"{source}: {count:,} images of {width}x{height} would take {decoded / 2**30:.1f} GiB decoded, "
            f"more than the {MAX_DECODED_BYTES // 2**30} GiB allowed: choose a smaller --image-size"
        )


# Arrays.


def _as_uint8(path: Path, array: np.ndarray) -> np.ndarray:
    """Images as uint8 (N, H, W, C) from any supported layout and value type."""
    if array.size == 0:
        raise VaeStudioError(f"{path}: holds no images (the array of shape {array.shape} is empty)")
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise VaeStudioError(
            f"{path}: images of shape {array.shape}: expected (N, H, W) or (N, H, W, C) with C of 1, 3 or 4"
        )
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise VaeStudioError(
                f"{path}: integer pixel values range from {low} to {high}, expected 0 to 255"
            )
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise VaeStudioError(f"{path}: images contain NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            raise VaeStudioError(
                f"{path}: float pixel values range from {low:g} to {high:g}, expected 0 to 1"
            )
        return np.rint(array * 255).astype(np.uint8)
    raise VaeStudioError(
        f"{path}: images of type {array.dtype} are not supported (integers, booleans or floats)"
    )


def _labels(
    path: Path, labels: np.ndarray | None, count: int
) -> tuple[torch.Tensor, tuple[str, ...], tuple[str, ...]]:
    """Class indices (N,), class names, and notes on any renumbering."""
    if labels is None:
        return torch.zeros(count, dtype=torch.int64), (path.stem,), ()
    if labels.shape != (count,):
        raise VaeStudioError(f"{path}: {count:,} images but labels of shape {labels.shape}")
    if labels.dtype.kind in "US":
        class_names, indices = np.unique(labels, return_inverse=True)
        check_class_count(path, len(class_names))
        return (
            torch.from_numpy(indices.astype(np.int64)),
            tuple(str(name) for name in class_names),
            (),
        )
    if labels.dtype.kind not in "iub" and not (
        labels.dtype.kind == "f" and np.all(np.mod(labels, 1) == 0)
    ):
        raise VaeStudioError(
            f"{path}: labels must be whole numbers or strings, got {labels.dtype} values"
        )
    if labels.min() < 0:
        raise VaeStudioError(f"{path}: labels must not be negative, found {labels.min():g}")
    if labels.max() <= MAX_DENSE_LABEL:
        indices = torch.from_numpy(labels.astype(np.int64))
        return indices, tuple(str(k) for k in range(int(indices.max()) + 1)), ()
    # Compared as given (not cast to int64 first), so that even 1e30 keeps its own class.
    values, indices = np.unique(labels, return_inverse=True)
    check_class_count(path, len(values))
    note = (
        f"labels go up to {labels.max():.0f}: their {len(values):,} distinct values are numbered "
        f"0 to {len(values) - 1:,} in order, with the values as class names"
    )
    return (
        torch.from_numpy(indices.astype(np.int64)),
        tuple(f"{value:.0f}" for value in values),
        (note,),
    )


def check_class_count(path: Path, count: int) -> None:
    if count > MAX_CLASSES:
        raise VaeStudioError(f"{path}: {count:,} classes, more than the {MAX_CLASSES:,} allowed")


def _convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) with C of 1, 3 or 4 -> uint8 (N, channels, H, W)."""
    images = images[:, :3]  # drop alpha
    if images.shape[1] == channels:
        return images
    if channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    luma = torch.einsum("nchw,c->nhw", images.float(), _LUMA)
    return luma.round_().clamp_(0, 255).to(torch.uint8).unsqueeze(1)


def _resize(images: torch.Tensor, side: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, side, side), anti-aliased, a chunk at a time."""
    if images.shape[2:] == (side, side):
        return images
    # Chunks bound the float copies that interpolation needs, whatever the sizes.
    values_per_image = images.shape[1] * max(side * side, images.shape[2] * images.shape[3])
    chunks = [
        F.interpolate(
            chunk.float(), size=(side, side), mode="bilinear", antialias=True, align_corners=False
        )
        .round_()
        .clamp_(0, 255)
        .to(torch.uint8)
        for chunk in torch.split(images, max(1, _RESIZE_CHUNK_VALUES // values_per_image))
    ]
    return torch.cat(chunks)


def _load_array(path: Path):
    if path.exists() and not (path.is_file() or path.is_dir()):
        # Opening a FIFO or a device would wait for a writer or read without end.
        raise VaeStudioError(f"{path}: not a regular file (a FIFO, socket or device)")
    if path.is_file():
        check_array_file(path)
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise VaeStudioError(f"{path}: file not found") from None
    except PermissionError:
        raise VaeStudioError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise VaeStudioError(f"{path}: is a folder, not an array file") from None
    except _NUMPY_READ_ERRORS as error:
        # numpy says ValueError for pickled objects and OSError/EOFError for truncated files.
        raise VaeStudioError(
            f"{path}: not a readable NumPy file ({str(error).splitlines()[0]})"
        ) from None


def _array_dataset(
    path: Path, images: np.ndarray, labels: np.ndarray | None, config: DataConfig
) -> ImageDataset:
    channels = channels_for(config)
    check_image_size(config)
    pixels = torch.from_numpy(_as_uint8(path, images)).permute(0, 3, 1, 2)  # (N, C, H, W)
    if config.image_size is not None:
        check_decoded_size(
            path, len(pixels), max(channels, pixels.shape[1]), config.image_size, config.image_size
        )
    pixels = _convert_channels(pixels, channels)
    if config.image_size is not None:
        pixels = _resize(pixels, config.image_size)
    label_tensor, class_names, notes = _labels(path, labels, len(pixels))
    return ImageDataset(
        name=path.stem,
        images=pixels.contiguous(),
        labels=label_tensor,
        class_names=class_names,
        notes=notes,
    )


def _first_present(archive, keys: tuple[str, ...]) -> str | None:
    return next((key for key in keys if key in archive.files), None)


def load_npz(config: DataConfig, location: str) -> ImageDataset:
    path = Path(location)
    archive = _load_array(path)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise VaeStudioError(
            f"{path}: a single .npy array, not an .npz archive: use npy:{location}"
        )
    with archive:
        image_key = _first_present(archive, _IMAGE_KEYS)
        label_key = _first_present(archive, _LABEL_KEYS)
        if image_key is None:
            others = [key for key in archive.files if key != label_key]
            if len(others) != 1:
                raise VaeStudioError(
                    f"{path}: cannot tell which array holds the images ({', '.join(archive.files) or 'none'}): "
                    "name it 'images'"
                )
            image_key = others[0]
        try:
            images = archive[image_key]
            labels = None if label_key is None else archive[label_key]
        except _NUMPY_READ_ERRORS as error:
            raise VaeStudioError(
                f"{path}: cannot read its arrays ({str(error).splitlines()[0]})"
            ) from None
    # NumPy hands back a zip member that is not a .npy file as raw bytes.
    for key, value in ((image_key, images), (label_key, labels)):
        if value is not None and not isinstance(value, np.ndarray):
            raise VaeStudioError(f"{path}: its member '{key}' is not a NumPy array")
    return _array_dataset(path, images, labels, config)


def load_npy(config: DataConfig, location: str) -> ImageDataset:
    path = Path(location)
    array = _load_array(path)
    if not isinstance(array, np.ndarray):
        array.close()
        raise VaeStudioError(
            f"{path}: an .npz archive, not a single .npy array: use npz:{location}"
        )
    return _array_dataset(path, array, None, config)
