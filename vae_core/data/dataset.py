"""The in-memory data set every model trains on: images or vectors, labels, optional factors.

Two kinds of values are held:

- Images, as uint8 (N, C, H, W); `batch()` turns them into floats in [0, 1] one batch at a time,
  so even the full 737,280-image sprites grid fits in memory (3 GB as uint8, 12 GB as floats).
- Vectors, as float32 (N, D, 1, 1), such as the 2-D point clouds (D = 2); `batch()` passes them
  through unchanged. Model them with the Gaussian likelihood and the MLP (or linear)
  architecture: a Bernoulli likelihood would treat coordinates as pixel intensities to binarise,
  and the conv architecture needs image sides divisible by 4 (it says so for a 1x1 "image").
  The built-in point clouds lie in the unit square, so the [0, 1] range of decoded images holds
  for them too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from vae_core.errors import VaeStudioError


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set says about itself, for the window and the command line."""

    name: str
    size: int
    image_shape: tuple[int, int, int]  # (C, H, W); (D, 1, 1) for vectors
    class_names: tuple[str, ...]
    factor_names: tuple[str, ...]
    # True for uint8 images, False for float vectors such as the 2-D point clouds.
    is_image: bool
    # Things the loader did that the user should know (images resized, files skipped).
    notes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class ImageDataset:
    """Examples held as uint8 images (N, C, H, W) or float32 vectors (N, D, 1, 1), with labels."""

    name: str
    images: torch.Tensor  # (N, C, H, W) uint8, or (N, D, 1, 1) float32
    labels: torch.Tensor  # (N,) int64
    class_names: tuple[str, ...]
    # Ground-truth generative factors where the data set knows them: (N, F) float32.
    factors: torch.Tensor | None = None
    factor_names: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.images.dim() != 4:
            raise VaeStudioError(
                f"data set {self.name}: images must have shape (N, C, H, W), got {tuple(self.images.shape)}"
            )
        if self.images.dtype == torch.float32:
            if self.images.shape[2:] != (1, 1):
                raise VaeStudioError(
                    f"data set {self.name}: float values must be vectors of shape (N, D, 1, 1)"
                )
        elif self.images.dtype != torch.uint8:
            raise VaeStudioError(
                f"data set {self.name}: images must be uint8 or float32, got {self.images.dtype}"
            )
        if len(self.labels) != len(self.images):
            raise VaeStudioError(
                f"data set {self.name}: {len(self.images)} images but {len(self.labels)} labels"
            )
        if self.factors is not None and tuple(self.factors.shape) != (
            len(self.images),
            len(self.factor_names),
        ):
            raise VaeStudioError(
                f"data set {self.name}: factors of shape {tuple(self.factors.shape)} do not match "
                f"{len(self.images)} examples and {len(self.factor_names)} factor names"
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_image(self) -> bool:
        return self.images.dtype == torch.uint8

    @property
    def info(self) -> DatasetInfo:
        return DatasetInfo(
            name=self.name,
            size=len(self),
            image_shape=self.image_shape,
            class_names=self.class_names,
            factor_names=self.factor_names,
            is_image=self.is_image,
            notes=self.notes,
        )

    def batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images in [0, 1] (or the vectors as they are) and labels for the given indices."""
        values = self.images[indices]
        if self.is_image:
            values = values.float().div_(255.0)
        return values, self.labels[indices]

    def mean_image(self, chunk: int = 4096) -> torch.Tensor:
        """The mean example (C, H, W) as `batch` gives them, in float32; summed in float64 by
        chunks so that no float copy of the whole set is made."""
        total = torch.zeros(self.image_shape, dtype=torch.float64, device=self.images.device)
        for start in range(0, len(self), chunk):
            total += self.images[start : start + chunk].double().sum(0)
        scale = 255.0 if self.is_image else 1.0
        return (total / (scale * max(1, len(self)))).float()

    def subset(self, indices: torch.Tensor) -> ImageDataset:
        return dataclasses.replace(
            self,
            images=self.images[indices],
            labels=self.labels[indices],
            factors=None if self.factors is None else self.factors[indices],
        )

    def to(self, device: torch.device) -> ImageDataset:
        return dataclasses.replace(
            self,
            images=self.images.to(device),
            labels=self.labels.to(device),
            factors=None if self.factors is None else self.factors.to(device),
        )

    def describe(self) -> str:
        shape = "x".join(str(s) for s in self.image_shape)
        if self.is_image:
            text = f"{self.name}: {len(self):,} images of {shape}, {self.num_classes} classes"
        else:
            text = f"{self.name}: {len(self):,} points in {self.image_shape[0]}-D, {self.num_classes} classes"
        if self.factor_names:
            text += f", factors {', '.join(self.factor_names)}"
        return text


@dataclass(frozen=True)
class DataSplit:
    train: ImageDataset
    test: ImageDataset

    @property
    def info(self) -> DatasetInfo:
        """The whole set's description: its size counts the train and the test examples."""
        return dataclasses.replace(self.train.info, size=len(self.train) + len(self.test))


def split_by_seed(data: ImageDataset, test_fraction: float, seed: int) -> DataSplit:
    """A train/test split that depends only on the seed."""
    if not 0 < test_fraction < 1:
        raise VaeStudioError(f"test fraction must be between 0 and 1, got {test_fraction}")
    if len(data) < 2:
        raise VaeStudioError(
            f"data set {data.name}: {len(data)} example(s) cannot be split into train and test"
        )
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    test_count = min(len(data) - 1, max(1, int(round(len(data) * test_fraction))))
    return DataSplit(train=data.subset(order[test_count:]), test=data.subset(order[:test_count]))
