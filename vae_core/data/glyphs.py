"""The built-in digit-like glyph set: ten classes of pen strokes, drawn in code from a seed.

Each class is a few polylines in the unit square; every example jitters the control points,
applies a random slant, rotation, scale and shift, and renders the strokes with a random pen
width, so the set is varied enough for a 2-D latent map to show real structure.

Drawing 12,000 took 0.6 to 1.8 s on 2 cores, the longest wait of a first Train in the window,
so `load_glyphs` keeps each set it draws in the cache folder and reads it back in milliseconds.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vae_core.data.dataset import ImageDataset
from vae_core.data.downloads import cache_dir
from vae_core.files import write_atomically

IMAGE_SIZE = 28
DEFAULT_SIZE = 12_000
# The glyph box covers the central 20x20 pixels, as MNIST centres its digits.
_BOX_PIXELS = 20.0
# Cached sets are named by a hash of this file: a changed drawing never reads stale glyphs.
_SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _arc(cx, cy, rx, ry, start_deg, end_deg, points=14):
    angles = torch.linspace(math.radians(start_deg), math.radians(end_deg), points)
    return torch.stack([cx + rx * torch.cos(angles), cy + ry * torch.sin(angles)], dim=1)


def _line(*points):
    return torch.tensor(points, dtype=torch.float32)


# Per class, its strokes as polylines (x to the right, y down, angles in degrees clockwise).
_STROKES = {
    0: [_arc(0.5, 0.5, 0.3, 0.46, 0, 360, 20)],
    1: [_line((0.3, 0.25), (0.55, 0.04), (0.55, 0.96))],
    2: [torch.cat([_arc(0.5, 0.3, 0.28, 0.25, 200, 385), _line((0.2, 0.95), (0.84, 0.95))])],
    3: [_arc(0.5, 0.28, 0.27, 0.23, 200, 450), _arc(0.5, 0.73, 0.3, 0.23, 270, 520)],
    4: [_line((0.68, 0.96), (0.68, 0.04), (0.14, 0.68), (0.86, 0.68))],
    5: [_line((0.8, 0.04), (0.3, 0.04), (0.26, 0.45)), _arc(0.48, 0.68, 0.3, 0.27, 235, 520)],
    6: [
        _line((0.74, 0.06), (0.45, 0.2), (0.3, 0.45), (0.25, 0.7)),
        _arc(0.5, 0.7, 0.25, 0.25, 0, 360),
    ],
    7: [_line((0.14, 0.05), (0.86, 0.05), (0.4, 0.96))],
    8: [_arc(0.5, 0.26, 0.22, 0.22, 0, 360), _arc(0.5, 0.72, 0.27, 0.24, 0, 360)],
    9: [_arc(0.5, 0.3, 0.25, 0.25, 0, 360), _line((0.75, 0.3), (0.72, 0.62), (0.6, 0.96))],
}


def _segments(strokes: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Control points of all strokes, and the (start, end) point index of every segment."""
    points = torch.cat(strokes)
    pairs, offset = [], 0
    for stroke in strokes:
        pairs += [(offset + i, offset + i + 1) for i in range(len(stroke) - 1)]
        offset += len(stroke)
    return points, torch.tensor(pairs)


def _render(points: torch.Tensor, pairs: torch.Tensor, half_width: torch.Tensor) -> torch.Tensor:
    """Anti-aliased strokes: (n, P, 2) points in pixels -> (n, H, W) intensities in [0, 1].

    For pixel p and segment a + t d, with u = (p - a)·d and t = clamp(u / |d|², 0, 1), the squared
    distance is |p - a|² - t (2u - t |d|²). Both |p - a|² and u are linear in features of p, so
    each is one batched matrix product instead of a chain of (n, pixels, segments) temporaries.
    """
    coords = torch.arange(IMAGE_SIZE, dtype=torch.float32) + 0.5
    pixel_y, pixel_x = (c.reshape(-1) for c in torch.meshgrid(coords, coords, indexing="ij"))
    ones = torch.ones_like(pixel_x)
    pixel_features = torch.stack([pixel_x, pixel_y, ones], dim=1)  # (HW, 3)
    pixel_square_features = torch.stack(
        [pixel_x.square() + pixel_y.square(), pixel_x, pixel_y, ones], dim=1
    )
    start = points[:, pairs[:, 0]]  # (n, S, 2)
    delta = points[:, pairs[:, 1]] - start
    length_squared = delta.square().sum(-1).clamp_min(1e-6).unsqueeze(1)  # (n, 1, S)
    dot_coefficients = torch.cat(
        [delta, -(start * delta).sum(-1, keepdim=True)], dim=-1
    )  # (n, S, 3)
    square_coefficients = torch.cat(
        [torch.ones_like(delta[..., :1]), -2 * start, start.square().sum(-1, keepdim=True)], dim=-1
    )  # (n, S, 4)
    along = pixel_features @ dot_coefficients.transpose(1, 2)  # (n, HW, S)
    squared = pixel_square_features @ square_coefficients.transpose(1, 2)
    fraction = (along / length_squared).clamp_(0, 1)
    squared -= fraction * (2 * along - fraction * length_squared)
    distance = squared.amin(dim=-1).clamp_min_(0).sqrt_()  # (n, HW)
    intensity = (half_width.unsqueeze(1) - distance + 0.5).clamp_(0, 1)
    return intensity.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def _random_affine(count: int, generator: torch.Generator) -> torch.Tensor:
    """(count, 2, 2) matrices: slant, rotation and an anisotropic scale."""

    def normal(scale):
        return torch.randn(count, generator=generator) * scale

    angle = normal(0.18)
    shear = normal(0.2)
    scale_x = 0.95 + normal(0.1)
    scale_y = 0.97 + normal(0.06)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    shear_scale = torch.zeros(count, 2, 2)
    shear_scale[:, 0, 0] = scale_x
    shear_scale[:, 0, 1] = shear
    shear_scale[:, 1, 1] = scale_y
    return rotation @ shear_scale


def make_glyphs(size: int = DEFAULT_SIZE, seed: int = 0) -> ImageDataset:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(size) % 10
    images = torch.empty(size, 1, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)
    margin = (IMAGE_SIZE - _BOX_PIXELS) / 2
    for digit, strokes in _STROKES.items():
        rows = (labels == digit).nonzero().squeeze(1)
        points, pairs = _segments(strokes)
        count = len(rows)
        jittered = points + torch.randn(count, *points.shape, generator=generator) * 0.025
        centred = (jittered - 0.5) @ _random_affine(count, generator).transpose(1, 2)
        shift = torch.randn(count, 1, 2, generator=generator) * 0.05
        in_pixels = (centred + 0.5 + shift) * _BOX_PIXELS + margin
        half_width = 0.9 + torch.rand(count, generator=generator) * 0.9
        # Small chunks keep the (chunk, pixels, segments) products in cache: 3x faster than 512.
        for chunk in torch.split(torch.arange(count), 32):
            rendered = _render(in_pixels[chunk], pairs, half_width[chunk])
            images[rows[chunk], 0] = (rendered * 255).round().to(torch.uint8)
    return _glyph_set(images, labels)


def _glyph_set(images: torch.Tensor, labels: torch.Tensor) -> ImageDataset:
    return ImageDataset(
        name="glyphs", images=images, labels=labels, class_names=tuple(str(d) for d in range(10))
    )


def cached_glyphs_path(size: int, seed: int) -> Path:
    return cache_dir() / "generated" / f"glyphs-{size}-{seed}-{_SOURCE_HASH}.safetensors"


def load_glyphs(size: int = DEFAULT_SIZE, seed: int = 0) -> ImageDataset:
    """`make_glyphs(size, seed)`, read from the cache folder when drawn before (a file that is
    missing, damaged or of another shape is drawn again and rewritten)."""
    path = cached_glyphs_path(size, seed)
    try:
        saved = load_file(path)
        images, labels = saved["images"], saved["labels"]
        if (
            images.dtype == torch.uint8
            and images.shape == (size, 1, IMAGE_SIZE, IMAGE_SIZE)
            and labels.shape == (size,)
        ):
            return _glyph_set(images, labels)
    except (OSError, SafetensorError, KeyError):
        pass
    glyphs = make_glyphs(size, seed)
    try:
        write_atomically(
            path,
            lambda temporary: save_file(
                {"images": glyphs.images, "labels": glyphs.labels}, temporary
            ),
        )
    except OSError:
        pass  # a cache folder that cannot be written: the glyphs are drawn again next time
    return glyphs
