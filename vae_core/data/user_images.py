"""The user's own images: `folder:DIR` of PNG/JPEG files.

Images directly inside the folder form one class named after it, and every subfolder (searched
to any depth) is a class named after the subfolder. Everything becomes uint8 (N, C, H, W) with
`DataConfig.color` channels, resized to `DataConfig.image_size` squares when it is set; images
that differ in size from the rest are resized to the most common size, and the notes say so.
Only regular files are read (a FIFO would block), 16-bit images are scaled down to 8 bits, and
sizes are read from the headers and bounded before any pixel is decoded.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from vae_core import limits
from vae_core.config import DataConfig
from vae_core.data.dataset import ImageDataset
from vae_core.data.user_files import (
    channels_for,
    check_class_count,
    check_decoded_size,
    check_image_size,
)
from vae_core.errors import VaeStudioError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Pillow's modes for one channel of more than 8 bits. PNG stores at most 16 bits, so "I" (32-bit)
# holds 0..65535 as well: older Pillow reads 16-bit grayscale PNGs in that mode.
_WIDE_GRAY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")
_SIXTEEN_BIT_MAX = 65535


def _scan(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Image files, other entries and subfolders directly in `folder`, sorted; hidden entries skipped.

    Only regular files (or links to them) count as images: FIFOs, sockets and devices named like
    images are among the other entries.
    """
    images, others, subfolders = [], [], []
    try:
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    subfolders.append(Path(entry.path))
                elif entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
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


def _scan_tree(folder: Path, visited: set[tuple[int, int]]) -> tuple[list[Path], list[Path]]:
    """Image files and other entries in `folder` and its subfolders, depth first in name order.
    A folder already read (through a link that loops back) is not read again, and a tree deeper
    than MAX_FOLDER_DEPTH is refused: it is a generated tree or a loop, never a data set."""
    images, others = [], []
    pending = [(folder, 1)]
    while pending:
        current, depth = pending.pop()
        if depth > limits.MAX_FOLDER_DEPTH:
            raise VaeStudioError(
                f"{folder}: its folders nest more than {limits.MAX_FOLDER_DEPTH} levels deep"
            )
        try:
            status = current.stat()
        except OSError as error:
            raise VaeStudioError(f"{current}: cannot read it ({error.strerror})") from None
        if (status.st_dev, status.st_ino) in visited:
            continue
        visited.add((status.st_dev, status.st_ino))
        found_images, found_others, subfolders = _scan(current)
        images += found_images
        others += found_others
        pending.extend((subfolder, depth + 1) for subfolder in reversed(subfolders))
    return images, others


def _open_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; both mean the same to the user.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise VaeStudioError(
            f"{path}: more than {Image.MAX_IMAGE_PIXELS:,} pixels, refused as a possible decompression bomb"
        ) from None
    except PermissionError:
        raise VaeStudioError(f"{path}: permission denied") from None
    except UnidentifiedImageError:
        raise VaeStudioError(f"{path}: not an image (cannot read it as PNG or JPEG)") from None
    except (ValueError, SyntaxError, EOFError, struct.error) as error:
        # Pillow's plugins report a corrupt header (a truncated IHDR chunk) in these.
        raise VaeStudioError(f"{path}: corrupt image header ({error})") from None
    except OSError as error:
        raise VaeStudioError(f"{path}: cannot read it ({error.strerror or error})") from None


def _eight_bit(image):
    """The image with 8 bits a channel; Pillow's own convert clips 16-bit gray to 255."""
    from PIL import Image

    if image.mode not in _WIDE_GRAY_MODES:
        return image
    wide = np.asarray(image, dtype=np.float64)
    return Image.fromarray(
        np.rint(wide.clip(0, _SIXTEEN_BIT_MAX) * (255 / _SIXTEEN_BIT_MAX)).astype(np.uint8)
    )


def _decode(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    try:
        with _open_image(path) as image:
            # JPEG can decode straight at a reduced scale, much faster for large photos.
            image.draft(mode, size)
            converted = _eight_bit(image).convert(mode)
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
        raise VaeStudioError(
            "reading a folder of images needs Pillow: pip install Pillow"
        ) from None
    channels = channels_for(config)
    check_image_size(config)
    root = Path(location)
    if not root.exists():
        raise VaeStudioError(f"{root}: folder not found")
    if not root.is_dir():
        raise VaeStudioError(f"{root}: not a folder")
    top_images, top_others, subfolders = _scan(root)
    classes = [(root.name or str(root), top_images)] if top_images else []
    others = list(top_others)
    visited = {(root.stat().st_dev, root.stat().st_ino)}
    for subfolder in subfolders:
        class_images, class_others = _scan_tree(subfolder, visited)
        others += class_others
        if class_images:
            classes.append((subfolder.name, class_images))
    check_class_count(root, len(classes))
    if not classes:
        found = f" (only other files, e.g. {others[0].name})" if others else ""
        raise VaeStudioError(
            f"{root}: no PNG or JPEG images in this folder or its subfolders{found}"
        )

    paths = [path for _, class_paths in classes for path in class_paths]
    labels = torch.cat(
        [
            torch.full((len(class_paths),), k, dtype=torch.int64)
            for k, (_, class_paths) in enumerate(classes)
        ]
    )
    notes = []
    if others:
        notes.append(_skipped_note(root, others))
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
    check_decoded_size(root, len(paths), channels, *size)
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


def _skipped_note(root: Path, others: list[Path]) -> str:
    special = [path for path in others if path.exists() and not path.is_file()]
    note = f"skipped {len(others)} file(s) that are not PNG or JPEG, e.g. {others[0].relative_to(root)}"
    if special:
        note += f"; {len(special)} of them not regular files (FIFO, socket or device), e.g. {special[0].relative_to(root)}"
    return note
