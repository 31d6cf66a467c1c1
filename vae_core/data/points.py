"""2-D point clouds (two moons, rings, a mixture of Gaussians, a spiral), drawn from a seed.

Data space is the plane, so data and latent space can both be drawn: the clearest picture of
what encoder and decoder do. Points are float32 (N, 2, 1, 1) vectors (see `dataset.py` for how
to model them), labelled by the moon, ring, component or arm they come from, and placed in the
unit square around (0.5, 0.5); noise tails may step just outside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vae_core.data.dataset import ImageDataset
from vae_core.errors import VaeStudioError

DEFAULT_SIZE = 10_000


@dataclass(frozen=True)
class PointCloud:
    class_names: tuple[str, ...]
    # (labels (n,), generator) -> points (n, 2) around the origin, within about [-1, 1]^2.
    draw: Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _noise(count: int, scale: float, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(count, 2, generator=generator) * scale


def _moons(labels, generator):
    # Two interleaved half circles of radius 1, the lower one shifted by (1, -0.5) and flipped.
    angle = torch.rand(len(labels), generator=generator) * math.pi
    upper = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], dim=1)
    points = torch.where(labels.unsqueeze(1) == 0, upper, lower) - torch.tensor([0.5, 0.25])
    return points * 0.6 + _noise(len(labels), 0.05, generator)


def _rings(labels, generator):
    angle = torch.rand(len(labels), generator=generator) * (2 * math.pi)
    radius = (labels.float() + 1) / 3
    circle = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1) * radius.unsqueeze(1)
    return circle * 0.95 + _noise(len(labels), 0.03, generator)


def _gaussians(labels, generator):
    # Eight components evenly spaced on a circle.
    angle = labels.float() * (2 * math.pi / 8)
    centres = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1) * 0.75
    return centres + _noise(len(labels), 0.07, generator)


def _spiral(labels, generator):
    # Three arms; along an arm the radius grows from the centre as the angle turns 1.5 times.
    along = torch.rand(len(labels), generator=generator)
    angle = along * (3 * math.pi) + labels.float() * (2 * math.pi / 3)
    arm = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1) * along.unsqueeze(1)
    return arm * 0.95 + _noise(len(labels), 0.025, generator)


POINT_CLOUDS: dict[str, PointCloud] = {
    "moons": PointCloud(("upper moon", "lower moon"), _moons),
    "rings": PointCloud(("inner ring", "middle ring", "outer ring"), _rings),
    "gaussians": PointCloud(tuple(f"component {k}" for k in range(8)), _gaussians),
    "spiral": PointCloud(("arm 1", "arm 2", "arm 3"), _spiral),
}


def make_points(name: str, size: int | None, seed: int) -> ImageDataset:
    size = DEFAULT_SIZE if size is None else size
    if size < 2:
        raise VaeStudioError(f"{name} needs at least 2 points, got {size}")
    cloud = POINT_CLOUDS[name]
    labels = torch.arange(size) % len(cloud.class_names)
    points = cloud.draw(labels, torch.Generator().manual_seed(seed))  # (N, 2), about [-1, 1]^2
    # The unit square keeps the [0, 1] range of every other data set; y grows upwards as drawn.
    in_unit_square = points * 0.45 + 0.5
    return ImageDataset(
        name=name,
        images=in_unit_square.to(torch.float32).view(size, 2, 1, 1),
        labels=labels,
        class_names=cloud.class_names,
    )
