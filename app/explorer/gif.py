"""A small animated-GIF writer (GIF89a, LZW), because Qt reads GIFs but cannot write them.

Grey images keep all 256 levels; colour images are mapped onto a fixed 6x7x6 colour cube.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vae_core.errors import VaeStudioError

_MAX_CODES = 4096  # codes are at most 12 bits wide
_CUBE = (6, 7, 6)  # levels of red, green, blue in the colour palette: 252 colours


def _grey_palette() -> np.ndarray:
    return np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)


def _cube_palette() -> np.ndarray:
    levels = [np.round(np.linspace(0, 255, n)).astype(np.uint8) for n in _CUBE]
    red, green, blue = np.meshgrid(*levels, indexing="ij")
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: red.size] = np.stack([red.ravel(), green.ravel(), blue.ravel()], axis=1)
    return palette


def _cube_indices(image: np.ndarray) -> np.ndarray:
    steps = [np.rint(image[..., channel].astype(np.float64) * (n - 1) / 255).astype(np.int64)
             for channel, n in enumerate(_CUBE)]  # fmt: skip
    return ((steps[0] * _CUBE[1] + steps[1]) * _CUBE[2] + steps[2]).astype(np.uint8)


def lzw_compress(indices: bytes, min_code_size: int = 8) -> bytes:
    """GIF's variable-width LZW of palette indices, codes packed least significant bit first."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    out = bytearray()
    bits = bit_count = 0

    def emit(code: int, width: int) -> None:
        nonlocal bits, bit_count
        bits |= code << bit_count
        bit_count += width
        while bit_count >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            bit_count -= 8

    width = min_code_size + 1
    next_code = end + 1
    table: dict[int, int] = {}
    emit(clear, width)
    prefix = indices[0]
    for value in indices[1:]:
        key = (prefix << 8) | value
        code = table.get(key)
        if code is not None:
            prefix = code
            continue
        emit(prefix, width)
        if next_code < _MAX_CODES:
            table[key] = next_code
            next_code += 1
            # The decoder adds each entry one code later than we do, hence the + 1.
            if next_code > (1 << width) and width < 12:
                width += 1
        else:
            emit(clear, width)
            table.clear()
            width = min_code_size + 1
            next_code = end + 1
        prefix = value
    emit(prefix, width)
    emit(end, width)
    if bit_count:
        out.append(bits & 0xFF)
    return bytes(out)


def _sub_blocks(data: bytes) -> bytes:
    chunks = [bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)]
    return b"".join(chunks) + b"\x00"


def encode_gif(frames: Sequence[np.ndarray], frame_ms: int = 100, loop: int = 0) -> bytes:
    """An animated GIF of uint8 frames, all (H, W) or all (H, W, 3); `loop` 0 repeats forever."""
    if len(frames) == 0:
        raise VaeStudioError("a GIF needs at least one frame")
    shape = frames[0].shape
    if any(frame.shape != shape or frame.dtype != np.uint8 for frame in frames):
        raise VaeStudioError("every GIF frame must be uint8 and of the same shape")
    height, width = shape[:2]
    if not (0 < height < 65536 and 0 < width < 65536):
        raise VaeStudioError(f"a GIF frame cannot be {width}x{height}")
    colour = len(shape) == 3
    palette = _cube_palette() if colour else _grey_palette()
    delay = max(1, round(frame_ms / 10))  # hundredths of a second
    parts = [
        b"GIF89a",
        # Global colour table of 2^(7+1) = 256 entries, 8 bits per primary.
        struct.pack("<HHBBB", width, height, 0xF7, 0, 0),
        palette.tobytes(),
        b"\x21\xff\x0bNETSCAPE2.0" + struct.pack("<BBHB", 3, 1, loop, 0),
    ]
    for frame in frames:
        indices = _cube_indices(frame) if colour else frame
        parts.append(b"\x21\xf9\x04" + struct.pack("<BHBB", 0x04, delay, 0, 0))
        parts.append(b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0))
        parts.append(b"\x08" + _sub_blocks(lzw_compress(np.ascontiguousarray(indices).tobytes())))
    parts.append(b"\x3b")
    return b"".join(parts)


def write_gif(path: str | Path, frames: Sequence[np.ndarray], frame_ms: int = 100, loop: int = 0) -> None:
    data = encode_gif(frames, frame_ms, loop)
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise VaeStudioError(f"cannot write GIF {path}: {error.strerror}") from None
