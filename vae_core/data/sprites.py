"""Sprites with known generative factors, after dSprites: shape, scale, rotation, x and y.

The factors form a grid of 3 shapes x 6 scales x 40 rotations x 32 x 32 positions (737,280
combinations, as in dSprites). A data set of `size` examples is a seeded random sample of grid
points without repetition (the whole grid, in grid order, when `size` is the grid's size), so
every factor takes a few known values: what a disentanglement score such as MIG needs.

Each shape is an implicit region in its own frame; a pixel is covered where its sub-pixel
samples, mapped into the frame of every sprite of a chunk at once, fall inside the region.
"""

from __future__ import annotations

import math

import torch

from vae_core.data.dataset import ImageDataset
from vae_core.errors import VaeStudioError

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
SCALES = torch.linspace(0.5, 1.0, 6)
ROTATIONS = torch.arange(40) * (2 * math.pi / 40)  # radians, [0, 2 pi)
POSITIONS = torch.linspace(0.0, 1.0, 32)
GRID_SHAPE = (len(SHAPES), len(SCALES), len(ROTATIONS), len(POSITIONS), len(POSITIONS))
GRID_SIZE = math.prod(GRID_SHAPE)
DEFAULT_SIZE = 20_000

# In units of the image side: the half-size of a sprite of scale 1, and the range its centre
# covers, chosen so that the largest sprite at an extreme position stays (almost) inside.
_HALF_SIZE = 0.13
_CENTRE_LOW, _CENTRE_HIGH = 0.2, 0.8
# Semi-axes of the ellipse in half-sizes; every shape lies within this radius of its centre.
ELLIPSE_AXES = (1.2, 0.6)
_SHAPE_RADIUS = 1.45
# Sub-pixel samples per side: 2 samples 2x2 points a pixel, so edges shade in quarter steps.
_SUPERSAMPLING = 2
_CHUNK = 256


def _square(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.maximum(u.abs(), v.abs()) <= 1.0


def _ellipse(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (u / ELLIPSE_AXES[0]).square() + (v / ELLIPSE_AXES[1]).square() <= 1.0


def _heart(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # The curve (x^2 + y^2 - 1)^3 = x^2 y^3 (y up) spans y in [-1, 1.25]: centre it, and shrink
    # it a little so that it is about as large as the other shapes.
    x = u * 1.1
    y = -v * 1.1 + 0.125
    return (x.square() + y.square() - 1.0).pow(3) - x.square() * y.pow(3) <= 0.0


_INSIDE = {"square": _square, "ellipse": _ellipse, "heart": _heart}


def grid_factors(indices: torch.Tensor) -> torch.Tensor:
    """(n,) grid indices -> (n, 5) factor values: shape index, scale, rotation, x, y."""
    columns = []
    remainder = indices
    for extent in reversed(GRID_SHAPE):
        columns.append(remainder % extent)
        remainder = remainder // extent
    shape, scale, rotation, x, y = reversed(columns)
    return torch.stack(
        [shape.float(), SCALES[scale], ROTATIONS[rotation], POSITIONS[x], POSITIONS[y]], dim=1
    )


def _window_samples(window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-pixel sample offsets in pixels from a window's corner, each (1, window^2 * S^2).

    Ordered pixel by pixel (row-major), the S*S samples of one pixel side by side.
    """
    steps = window * _SUPERSAMPLING
    coords = (torch.arange(steps, dtype=torch.float32) + 0.5) / _SUPERSAMPLING
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")

    def by_pixel(grid):
        return (
            grid.reshape(window, _SUPERSAMPLING, window, _SUPERSAMPLING)
            .permute(0, 2, 1, 3)
            .reshape(1, -1)
        )

    return by_pixel(cols), by_pixel(rows)


def render_sprites(factors: torch.Tensor, image_size: int) -> torch.Tensor:
    """(n, 5) factor values -> (n, 1, H, W) uint8 images.

    Only a window around each sprite, large enough for its shape at any rotation, is sampled:
    several times less work than the whole image. Windows are pasted into a canvas padded by a window on every side, then cropped.
    """
    radius = _SHAPE_RADIUS * _HALF_SIZE * image_size + 1  # pixels
    window = math.ceil(2 * radius)
    sample_x, sample_y = _window_samples(window)
    within = torch.arange(window)
    images = torch.empty(len(factors), 1, image_size, image_size, dtype=torch.uint8)
    for shape_index, shape in enumerate(SHAPES):
        rows = (factors[:, 0] == shape_index).nonzero().squeeze(1)
        for chunk in torch.split(rows, _CHUNK):
            _, scale, rotation, x, y = (column.unsqueeze(1) for column in factors[chunk].unbind(1))
            centre_x = (
                _CENTRE_LOW + (_CENTRE_HIGH - _CENTRE_LOW) * x
            ) * image_size  # (n, 1) pixels
            centre_y = (_CENTRE_LOW + (_CENTRE_HIGH - _CENTRE_LOW) * y) * image_size
            left = torch.floor(centre_x - window / 2)
            top = torch.floor(centre_y - window / 2)
            offset_x = sample_x + (left - centre_x)  # (n, window^2 * S^2) pixels from the centre
            offset_y = sample_y + (top - centre_y)
            cos, sin = torch.cos(rotation), torch.sin(rotation)
            size = scale * (_HALF_SIZE * image_size)
            u = (cos * offset_x + sin * offset_y) / size
            v = (cos * offset_y - sin * offset_x) / size
            coverage = (
                _INSIDE[shape](u, v)
                .view(len(chunk), window, window, _SUPERSAMPLING**2)
                .float()
                .mean(-1)
            )
            canvas = torch.zeros(
                len(chunk), image_size + 2 * window, image_size + 2 * window, dtype=torch.uint8
            )
            canvas_rows = (top.long() + window).unsqueeze(2) + within.view(
                1, -1, 1
            )  # (n, window, 1)
            canvas_cols = (left.long() + window).unsqueeze(2) + within.view(
                1, 1, -1
            )  # (n, 1, window)
            sprite = torch.arange(len(chunk)).view(-1, 1, 1)
            canvas[sprite, canvas_rows, canvas_cols] = (coverage * 255).round_().to(torch.uint8)
            images[chunk, 0] = canvas[:, window:-window, window:-window]
    return images


def make_sprites(name: str, size: int | None, seed: int, image_size: int) -> ImageDataset:
    size = DEFAULT_SIZE if size is None else size
    if not 1 <= size <= GRID_SIZE:
        raise VaeStudioError(
            f"sprites size must be between 1 and {GRID_SIZE:,} (the whole grid), got {size:,}"
        )
    if size == GRID_SIZE:
        indices = torch.arange(GRID_SIZE)
    else:
        indices = torch.randperm(GRID_SIZE, generator=torch.Generator().manual_seed(seed))[:size]
    factors = grid_factors(indices)
    return ImageDataset(
        name=name,
        images=render_sprites(factors, image_size),
        labels=factors[:, 0].long(),
        class_names=SHAPES,
        factors=factors,
        factor_names=FACTOR_NAMES,
    )
