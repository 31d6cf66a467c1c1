"""The in-memory data set: uint8 images or float vectors, what it says about itself, its split."""

from __future__ import annotations

import pytest
import torch

from vae_core.config import DataConfig
from vae_core.data import GENERATED_SETS, ImageDataset, load_data
from vae_core.data.dataset import split_by_seed
from vae_core.errors import VaeStudioError


def images_dataset(count=10, **fields) -> ImageDataset:
    images = (torch.arange(count * 4) % 256).to(torch.uint8).view(count, 1, 2, 2)
    return ImageDataset("tiny", images, torch.arange(count) % 2, ("a", "b"), **fields)


def test_uint8_batches_become_floats_in_the_unit_interval():
    data = ImageDataset(
        "px",
        torch.tensor([0, 51, 255, 102], dtype=torch.uint8).view(1, 1, 2, 2),
        torch.zeros(1, dtype=torch.int64),
        ("a",),
    )
    values, labels = data.batch(torch.tensor([0]))
    assert values.dtype == torch.float32 and values.flatten().tolist() == pytest.approx(
        [0.0, 0.2, 1.0, 0.4]
    )
    assert labels.tolist() == [0]


def test_float_vectors_pass_through_batches_unchanged():
    vectors = torch.tensor([[-3.5, 2.0], [0.25, 7.0], [1e-3, -1e3]]).view(3, 2, 1, 1)
    data = ImageDataset("vectors", vectors, torch.tensor([0, 1, 0]), ("a", "b"))
    values, _ = data.batch(torch.tensor([2, 0]))
    assert torch.equal(values, vectors[[2, 0]])
    assert not data.is_image and data.describe() == "vectors: 3 points in 2-D, 2 classes"


@pytest.mark.parametrize(
    ("images", "problem"),
    [
        (torch.zeros(3, 2, 2, 1), "vectors of shape"),
        (torch.zeros(3, 1, 2, 2, dtype=torch.int16), "uint8 or float32"),
        (torch.zeros(3, 4, dtype=torch.uint8), r"\(N, C, H, W\)"),
    ],
)
def test_values_of_another_kind_are_refused(images, problem):
    with pytest.raises(VaeStudioError, match=problem):
        ImageDataset("bad", images, torch.zeros(len(images), dtype=torch.int64), ("a",))


def test_factors_must_match_examples_and_names():
    with pytest.raises(VaeStudioError, match="factors of shape"):
        images_dataset(factors=torch.zeros(10, 3), factor_names=("a", "b"))


def test_info_describes_the_set_and_survives_subsets_and_moves():
    data = images_dataset(
        factors=torch.arange(20.0).view(10, 2), factor_names=("p", "q"), notes=("resized 1 image",)
    )
    part = data.subset(torch.tensor([1, 3])).to(torch.device("cpu"))
    info = part.info
    assert (info.name, info.size, info.image_shape, info.num_classes) == ("tiny", 2, (1, 2, 2), 2)
    assert (info.class_names, info.factor_names, info.notes, info.is_image) == (
        ("a", "b"),
        ("p", "q"),
        ("resized 1 image",),
        True,
    )
    assert part.factors.tolist() == [[2.0, 3.0], [6.0, 7.0]]
    assert part.describe() == "tiny: 2 images of 1x2x2, 2 classes, factors p, q"


def test_the_split_is_disjoint_complete_and_fixed_by_the_seed():
    data = images_dataset(count=60)
    split = split_by_seed(data, 1 / 6, seed=5)
    train_ids = split.train.images.view(60 - 10, -1)[:, 0].tolist()
    test_ids = split.test.images.view(10, -1)[:, 0].tolist()
    assert sorted(train_ids + test_ids) == sorted(data.images.view(60, -1)[:, 0].tolist())
    assert torch.equal(split_by_seed(data, 1 / 6, seed=5).test.images, split.test.images)
    assert not torch.equal(split_by_seed(data, 1 / 6, seed=6).test.images, split.test.images)


def test_a_single_example_cannot_be_split():
    with pytest.raises(VaeStudioError, match="cannot be split"):
        split_by_seed(images_dataset(count=1), 0.2, seed=0)


@pytest.mark.parametrize("name", sorted(GENERATED_SETS))
def test_every_generated_set_loads_by_name_and_describes_itself(name):
    split = load_data(DataConfig(dataset=name, size=60))
    info = split.train.info
    assert info.name == name and info.size == 50 and len(split.test) == 10
    assert split.info.size == 60 and split.info.class_names == info.class_names
    assert info.num_classes >= 2 and len(info.image_shape) == 3
    assert split.train.labels.max() < info.num_classes


def test_unknown_names_and_sources_are_one_line_errors():
    with pytest.raises(VaeStudioError, match="unknown data set 'nope'"):
        load_data(DataConfig(dataset="nope"))
    with pytest.raises(VaeStudioError, match="unknown data source 'zip:'"):
        load_data(DataConfig(dataset="zip:/tmp/x"))
    with pytest.raises(VaeStudioError, match="needs a location"):
        load_data(DataConfig(dataset="npz:"))
