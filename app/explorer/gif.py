"""Animated GIFs through Pillow, because Qt reads GIFs but cannot write them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vae_core.errors import VaeStudioError
from vae_core.files import write_atomically


def write_gif(
    path: str | Path, frames: Sequence[np.ndarray], frame_ms: int = 100, loop: int = 0
) -> str:
    """An animated GIF of uint8 frames, all (H, W) grey or all (H, W, 3) RGB; `loop` 0 repeats
    forever. Grey frames keep all 256 levels; colour ones are reduced to at most 256 colours. Frames
    equal to the one before merge into it, shown as long as both were (Pillow's doing)."""
    # Imported here: opening the window does not need Pillow, only an export does.
    from PIL import Image

    if len(frames) == 0:
        raise VaeStudioError("a GIF needs at least one frame")
    shape = frames[0].shape
    if any(frame.shape != shape or frame.dtype != np.uint8 for frame in frames):
        raise VaeStudioError("every GIF frame must be uint8 and of the same shape")
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] == 3)):
        raise VaeStudioError(f"a GIF frame must be (H, W) grey or (H, W, 3) RGB, not {shape}")
    first, *others = [Image.fromarray(np.ascontiguousarray(frame)) for frame in frames]

    def save(temporary: str) -> None:
        # Not optimize: it marks the pixels a frame leaves unchanged transparent, and a frame that
        # uses all 256 grey levels then loses one of them to the transparent index.
        first.save(
            temporary,
            format="GIF",
            save_all=True,
            append_images=others,
            duration=frame_ms,
            loop=loop,
            optimize=False,
        )

    path = Path(path)
    try:
        write_atomically(path, save)
    except OSError as error:
        raise VaeStudioError(f"cannot write GIF {path}: {error.strerror or error}") from None
    return str(path)
