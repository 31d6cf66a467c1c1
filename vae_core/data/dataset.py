"""The in-memory data set every model trains on: uint8 images, labels, optional factors."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from vae_core.errors import VaeStudioError


@dataclass(frozen=True)
class ImageDataset:
    """Images held as uint8 (N, C, H, W) and turned into floats in [0, 1] one batch at a time."""

    name: str
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64
    class_names: tuple[str, ...]
    # Ground-truth generative factors where the data set knows them: (N, F) float32.
    factors: torch.Tensor | None = None
    factor_names: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise VaeStudioError(f"data set {self.name}: images must be uint8 (N, C, H, W)")
        if len(self.labels) != len(self.images):
            raise VaeStudioError(
                f"data set {self.name}: {len(self.images)} images but {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images in [0, 1] and labels for the given indices."""
        return self.images[indices].float().div_(255.0), self.labels[indices]

    def subset(self, indices: torch.Tensor) -> ImageDataset:
        return ImageDataset(
            name=self.name,
            images=self.images[indices],
            labels=self.labels[indices],
            class_names=self.class_names,
            factors=None if self.factors is None else self.factors[indices],
            factor_names=self.factor_names,
        )

    def to(self, device: torch.device) -> ImageDataset:
        return ImageDataset(
            name=self.name,
            images=self.images.to(device),
            labels=self.labels.to(device),
            class_names=self.class_names,
            factors=None if self.factors is None else self.factors.to(device),
            factor_names=self.factor_names,
        )

    def describe(self) -> str:
        shape = "x".join(str(s) for s in self.image_shape)
        text = f"{self.name}: {len(self):,} images of {shape}, {self.num_classes} classes"
        if self.factor_names:
            text += f", factors {', '.join(self.factor_names)}"
        return text


@dataclass(frozen=True)
class DataSplit:
    train: ImageDataset
    test: ImageDataset


def split_by_seed(data: ImageDataset, test_fraction: float, seed: int) -> DataSplit:
    """A train/test split that depends only on the seed."""
    if not 0 < test_fraction < 1:
        raise VaeStudioError(f"test fraction must be between 0 and 1, got {test_fraction}")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    test_count = max(1, int(round(len(data) * test_fraction)))
    return DataSplit(train=data.subset(order[test_count:]), test=data.subset(order[:test_count]))
