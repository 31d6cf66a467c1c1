"""The user's own data: `npz:FILE` and `npy:FILE` arrays, and `folder:DIR` of PNG/JPEG images.

Arrays are (N, H, W) or (N, H, W, C) with C of 1, 3 or 4 (alpha is dropped): integers in
[0, 255], booleans, or floats in [0, 1]. An .npz names its images `images` (or `x`, `X`, or is
its only array) and may carry labels as `labels` (or `y`, `Y`): integers, or strings that
become class names. In a folder, images directly inside form one class named after it, and
every subfolder (searched to any depth) is a class named after the subfolder.

Everything becomes uint8 (N, C, H, W) with `DataConfig.color` channels (grayscale or rgb),
resized to `DataConfig.image_size` squares when it is set. Images of a folder that differ in
size from the rest are resized to the most common size, and the data set's notes say so.
"""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vae_core.choices import lookup
from vae_core.config import DataConfig
from vae_core.data.dataset import ImageDataset
from vae_core.errors import VaeStudioError

COLOR_CHANNELS = {"grayscale": 1, "rgb": 3}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_IMAGE_KEYS = ("images", "x", "X")
_LABEL_KEYS = ("labels", "y", "Y")
# ITU-R BT.601 luma, the weights Pillow uses for its own RGB -> L conversion.
_LUMA = torch.tensor([0.299, 0.587, 0.114])
_RESIZE_CHUNK = 1024


def _channels(config: DataConfig) -> int:
    return lookup(COLOR_CHANNELS, "color", config.color)


def _check_image_size(config: DataConfig) -> None:
    if config.image_size is not None and config.image_size < 1:
        raise VaeStudioError(f"image size must be at least 1 pixel, got {config.image_size}")


# Arrays.

def _as_uint8(path: Path, array: np.ndarray) -> np.ndarray:
    """Images as uint8 (N, H, W, C) from any supported layout and value type."""
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        raise VaeStudioError(
            f"{path}: images of shape {array.shape}: expected (N, H, W) or (N, H, W, C) with C of 1, 3 or 4"
        )
    if len(array) == 0:
        raise VaeStudioError(f"{path}: holds no images (the array is empty)")
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise VaeStudioError(f"{path}: integer pixel values range from {low} to {high}, expected 0 to 255")
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise VaeStudioError(f"{path}: images contain NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            raise VaeStudioError(f"{path}: float pixel values range from {low:g} to {high:g}, expected 0 to 1")
        return np.rint(array * 255).astype(np.uint8)
    raise VaeStudioError(f"{path}: images of type {array.dtype} are not supported (integers, booleans or floats)")


def _labels(path: Path, labels: np.ndarray | None, count: int) -> tuple[torch.Tensor, tuple[str, ...]]:
    if labels is None:
        return torch.zeros(count, dtype=torch.int64), (path.stem,)
    if labels.shape != (count,):
        raise VaeStudioError(f"{path}: {count:,} images but labels of shape {labels.shape}")
    if labels.dtype.kind in "US":
        class_names, indices = np.unique(labels, return_inverse=True)
        return torch.from_numpy(indices.astype(np.int64)), tuple(str(name) for name in class_names)
    if labels.dtype.kind not in "iub" and not (labels.dtype.kind == "f" and np.all(np.mod(labels, 1) == 0)):
        raise VaeStudioError(f"{path}: labels must be whole numbers or strings, got {labels.dtype} values")
    if labels.min() < 0:
        raise VaeStudioError(f"{path}: labels must not be negative, found {labels.min():g}")
    indices = torch.from_numpy(labels.astype(np.int64))
    return indices, tuple(str(k) for k in range(int(indices.max()) + 1))


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
    chunks = [
        F.interpolate(chunk.float(), size=(side, side), mode="bilinear", antialias=True, align_corners=False)
        .round_().clamp_(0, 255).to(torch.uint8)
        for chunk in torch.split(images, _RESIZE_CHUNK)
    ]
    return torch.cat(chunks)


def _load_array(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise VaeStudioError(f"{path}: file not found") from None
    except PermissionError:
        raise VaeStudioError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise VaeStudioError(f"{path}: is a folder, not an array file") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        # numpy says ValueError for pickled objects and OSError/EOFError for truncated files.
        raise VaeStudioError(f"{path}: not a readable NumPy file ({str(error).splitlines()[0]})") from None


def _array_dataset(path: Path, images: np.ndarray, labels: np.ndarray | None, config: DataConfig) -> ImageDataset:
    channels = _channels(config)
    _check_image_size(config)
    pixels = torch.from_numpy(_as_uint8(path, images)).permute(0, 3, 1, 2)  # (N, C, H, W)
    pixels = _convert_channels(pixels, channels)
    if config.image_size is not None:
        pixels = _resize(pixels, config.image_size)
    label_tensor, class_names = _labels(path, labels, len(pixels))
    return ImageDataset(name=path.stem, images=pixels.contiguous(), labels=label_tensor, class_names=class_names)


def _first_present(archive, keys: tuple[str, ...]) -> str | None:
    return next((key for key in keys if key in archive.files), None)


def load_npz(config: DataConfig, location: str) -> ImageDataset:
    path = Path(location)
    archive = _load_array(path)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise VaeStudioError(f"{path}: a single .npy array, not an .npz archive: use npy:{location}")
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
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise VaeStudioError(f"{path}: cannot read its arrays ({str(error).splitlines()[0]})") from None
    return _array_dataset(path, images, labels, config)


def load_npy(config: DataConfig, location: str) -> ImageDataset:
    path = Path(location)
    array = _load_array(path)
    if not isinstance(array, np.ndarray):
        array.close()
        raise VaeStudioError(f"{path}: an .npz archive, not a single .npy array: use npz:{location}")
    return _array_dataset(path, array, None, config)


# Folders of images.

def _scan(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Image files, other files and subfolders directly in `folder`, sorted; hidden entries skipped."""
    images, others, subfolders = [], [], []
    try:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    subfolders.append(Path(entry.path))
                elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                    images.append(Path(entry.path))
                else:
                    others.append(Path(entry.path))
    except PermissionError:
        raise VaeStudioError(f"{folder}: permission denied") from None
    except NotADirectoryError:
        raise VaeStudioError(f"{folder}: not a folder") from None
    except FileNotFoundError:
        raise VaeStudioError(f"{folder}: folder not found") from None
    return images, others, subfolders


def _scan_tree(folder: Path) -> tuple[list[Path], list[Path]]:
    images, others, subfolders = _scan(folder)
    for subfolder in subfolders:
        more_images, more_others = _scan_tree(subfolder)
        images += more_images
        others += more_others
    return images, others


def _open_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except PermissionError:
        raise VaeStudioError(f"{path}: permission denied") from None
    except UnidentifiedImageError:
        raise VaeStudioError(f"{path}: not an image (cannot read it as PNG or JPEG)") from None
    except OSError as error:
        raise VaeStudioError(f"{path}: cannot read it ({error.strerror or error})") from None


def _decode(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    try:
        with _open_image(path) as image:
            # JPEG can decode straight at a reduced scale, much faster for large photos.
            image.draft(mode, size)
            converted = image.convert(mode)
            if converted.size != size:
                converted = converted.resize(size, Image.Resampling.LANCZOS)
            pixels = np.asarray(converted, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as error:
        # Pillow reports truncated or corrupt image data only when it decodes the pixels.
        raise VaeStudioError(f"{path}: corrupt or truncated image data ({error})") from None
    return pixels.reshape(size[1], size[0], -1)


def load_image_folder(config: DataConfig, location: str) -> ImageDataset:
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise VaeStudioError("reading a folder of images needs Pillow: pip install Pillow") from None
    channels = _channels(config)
    _check_image_size(config)
    root = Path(location)
    if not root.exists():
        raise VaeStudioError(f"{root}: folder not found")
    if not root.is_dir():
        raise VaeStudioError(f"{root}: not a folder")
    top_images, top_others, subfolders = _scan(root)
    classes = [(root.name or str(root), top_images)] if top_images else []
    others = list(top_others)
    for subfolder in subfolders:
        class_images, class_others = _scan_tree(subfolder)
        others += class_others
        if class_images:
            classes.append((subfolder.name, class_images))
    if not classes:
        found = f" (only other files, e.g. {others[0].name})" if others else ""
        raise VaeStudioError(f"{root}: no PNG or JPEG images in this folder or its subfolders{found}")

    paths = [path for _, class_paths in classes for path in class_paths]
    labels = torch.cat([torch.full((len(class_paths),), k, dtype=torch.int64) for k, (_, class_paths) in enumerate(classes)])
    notes = []
    if others:
        notes.append(f"skipped {len(others)} file(s) that are not PNG or JPEG, e.g. {others[0].relative_to(root)}")
    if config.image_size is not None:
        size = (config.image_size, config.image_size)
    else:
        sizes = []
        for path in paths:
            with _open_image(path) as image:  # reads the header only
                sizes.append(image.size)
        size, count = Counter(sizes).most_common(1)[0]
        if count < len(paths):
            odd = next(path for path, s in zip(paths, sizes) if s != size)
            notes.append(
                f"resized {len(paths) - count} image(s) of other sizes to the most common {size[0]}x{size[1]}, "
                f"e.g. {odd.relative_to(root)}"
            )
    mode = "L" if channels == 1 else "RGB"
    pixels = np.empty((len(paths), size[1], size[0], channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        pixels[i] = _decode(path, mode, size)
    return ImageDataset(
        name=root.name or str(root),
        images=torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(),
        labels=labels,
        class_names=tuple(name for name, _ in classes),
        notes=tuple(notes),
    )
